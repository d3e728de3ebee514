import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { isHotpathError } from '../../../src/errors.js'
import { resolveLoadTestOptions } from '../../../src/loadtest/options.js'
import { PRESETS } from '../../../src/loadtest/presets.js'
import { validateScenario } from '../../../src/loadtest/scenario.js'
import { parseScenarioText } from '../../../src/loadtest/scenario-file.js'
import { FakeClock } from '../../../src/time.js'

function message(fn: () => unknown): string {
  try {
    fn()
  } catch (err) {
    assert.ok(isHotpathError(err, 'E_SCENARIO'), String(err))
    return (err as Error).message
  }
  assert.fail('expected a ScenarioError')
}

const YAML = `name: checkout
target: http://127.0.0.1:3000
rate: 200
duration: 30s
steps:
  - path: /api/catalog
    capture:
      first: json:items.0.id
  - method: GETT
    path: /api/catalog/{{first}}
`

describe('scenario files', () => {
  test('a YAML error names the file, the line and the field, with the closest method', () => {
    assert.equal(
      message(() => parseScenarioText(YAML, 's.yaml')),
      's.yaml:9: steps[1].method: must be one of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS; received "GETT" (did you mean GET?)',
    )
  })

  test('an unknown key in JSON is located and the closest name offered', () => {
    const json = '{\n  "target": "http://127.0.0.1:1",\n  "rat": 100\n}\n'
    assert.equal(
      message(() => parseScenarioText(json, 'a.json')),
      'a.json:3: rat: unknown field; did you mean "rate"?',
    )
  })

  test('a syntax error names its line', () => {
    const msg = message(() => parseScenarioText('{\n  "rate": 100,\n  "steps": [\n}\n', 'b.json'))
    assert.match(msg, /^b\.json:\d+: \(syntax\): /)
  })

  test('bad values: status, capture, duration, two load shapes, a bad target', () => {
    assert.match(
      message(() => parseScenarioText('steps:\n  - check: { status: 700 }\n', 'c.yaml')),
      /^c\.yaml:2: steps\[0\]\.check\.status: must be an HTTP status/,
    )
    assert.match(
      message(() => parseScenarioText('steps:\n  - capture: { id: "xpath:/a" }\n', 'c.yaml')),
      /steps\[0\]\.capture\.id: must be 'json:<path>'/,
    )
    assert.match(
      message(() => parseScenarioText('duration: 10 minutes\n', 'c.yaml')),
      /^c\.yaml:1: duration: must look like/,
    )
    assert.match(
      message(() => parseScenarioText('rate: 10\nvus: 5\n', 'c.yaml')),
      /^c\.yaml:2: vus: give only one of rate, stages, stairs or vus/,
    )
    assert.match(
      message(() => parseScenarioText('target: ftp://x\n', 'c.yaml')),
      /target: must be an http:\/\/ or https:\/\/ URL/,
    )
  })

  test('a good file validates to the same object', () => {
    const s = parseScenarioText(YAML.replace('GETT', 'GET'), 's.yaml')
    assert.equal(s.steps?.length, 2)
    assert.equal(s.steps?.[0]?.capture?.first, 'json:items.0.id')
  })
})

describe('resolving a plan', () => {
  test('rate, ramps, stairs and stages make an open model; vus a closed one', () => {
    const t = 'http://127.0.0.1:1/'
    const constant = resolveLoadTestOptions({ target: t, rate: 100, duration: '5s' })
    assert.equal(constant.model, 'open')
    assert.deepEqual(constant.stages, [{ durationMs: 5000, from: 100, to: 100 }])
    assert.deepEqual(resolveLoadTestOptions({ target: t, rate: '10-20', duration: '1s' }).stages, [
      { durationMs: 1000, from: 10, to: 20 },
    ])
    const st = resolveLoadTestOptions({ target: t, stairs: { from: 10, step: 10, steps: 3, every: '2s' } })
    assert.equal(st.durationMs, 6000)
    const closed = resolveLoadTestOptions({ target: t, vus: 7, think: '100ms' })
    assert.equal(closed.model, 'closed')
    assert.equal(closed.connections, 7)
    assert.equal(closed.thinkMs, 100)
  })

  test('a missing or bad target and unknown options are refused by name', () => {
    assert.match(
      message(() => resolveLoadTestOptions({ rate: 1 })),
      /^target: is required/,
    )
    assert.match(
      message(() => resolveLoadTestOptions({ target: 'localhost:3000' })),
      /^target: /,
    )
    assert.throws(
      () => resolveLoadTestOptions({ target: 'http://x/', ratee: 1 } as never),
      /Did you mean "rate"/,
    )
  })

  test('pacing defaults to auto (precise up to 5,000/s, timer above), a named one is taken, anything else is refused by name', () => {
    const t = 'http://127.0.0.1:1/'
    assert.equal(resolveLoadTestOptions({ target: t, rate: 10 }).pacing, 'precise')
    assert.equal(resolveLoadTestOptions({ target: t, rate: 20_000 }).pacing, 'timer')
    assert.equal(
      resolveLoadTestOptions({ target: t, stages: [{ duration: '1s', from: 100, to: 8000 }] }).pacing,
      'timer',
    )
    assert.equal(resolveLoadTestOptions({ target: t, rate: 10, pacing: 'spin' }).pacing, 'spin')
    assert.equal(resolveLoadTestOptions({ target: t, rate: 20_000, pacing: 'precise' }).pacing, 'precise')
    // a custom clock: the pacer thread cannot follow it, so auto paces by the clock's timers
    const clock = new FakeClock()
    assert.equal(resolveLoadTestOptions({ target: t, rate: 10, clock }).pacing, 'timer')
    assert.match(
      message(() => resolveLoadTestOptions({ target: t, rate: 10, clock, pacing: 'precise' })),
      /^pacing: 'precise' sleeps on the system clock/,
    )
    assert.match(
      message(() => resolveLoadTestOptions({ target: t, rate: 10, pacing: 'spn' as never })),
      /^pacing: must be one of auto, timer, spin, precise; received "spn" \(did you mean spin\?\)/,
    )
  })

  test('maxInFlight defaults to every request that can be outstanding within one timeout', () => {
    const r = resolveLoadTestOptions({ target: 'http://x/', rate: 2000, timeout: '10s' })
    assert.equal(r.maxInFlight, 20_000)
  })

  test("the presets are valid scenarios with the seeds' pass criteria", () => {
    for (const p of Object.values(PRESETS)) validateScenario(p)
    assert.equal(PRESETS.light.rate, 20)
    assert.equal(PRESETS.moderate.rate, 250)
    assert.equal(PRESETS.heavy.rate, 1000)
    assert.deepEqual(PRESETS.light.thresholds, ['p99 < 1s', 'errors < 1%'])
  })
})
