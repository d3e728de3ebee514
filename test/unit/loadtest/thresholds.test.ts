import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { isHotpathError } from '../../../src/errors.js'
import { canAbortEarly, evaluate, type Figures, parseThreshold } from '../../../src/loadtest/thresholds.js'

const figures: Figures = {
  percentile: (p) => (p >= 99 ? 250 : 10),
  mean: 20,
  min: 1,
  max: 900,
  requests: 1000,
  errors: 15,
  rps: 1200,
  scheduled: 1000,
  dropped: 0,
}

describe('thresholds', () => {
  test('parse latency with units, rates with %, counts without', () => {
    assert.deepEqual(parseThreshold('p99 < 200ms', 't'), {
      source: 'p99 < 200ms',
      metric: 'p99',
      op: '<',
      value: 200,
      asRate: false,
    })
    assert.equal(parseThreshold('p99.9<=1.5s', 't').value, 1500)
    assert.equal(parseThreshold('avg < 500us', 't').metric, 'mean')
    assert.equal(parseThreshold('avg < 500us', 't').value, 0.5)
    assert.deepEqual(parseThreshold('errors < 1%', 't'), {
      source: 'errors < 1%',
      metric: 'errors',
      op: '<',
      value: 0.01,
      asRate: true,
    })
    assert.equal(parseThreshold('errors < 10', 't').asRate, false)
    assert.equal(parseThreshold('rps > 1000', 't').value, 1000)
  })

  test('a malformed threshold names the field and shows the accepted forms', () => {
    for (const bad of ['p99 200ms', 'latency < 2', 'p99 < 5%', 'rps > 10ms', 'p101 < 1s', 'errors < 1ms']) {
      assert.throws(
        () => parseThreshold(bad, '--threshold'),
        (err: unknown) =>
          isHotpathError(err, 'E_SCENARIO') && (err as Error).message.startsWith('--threshold: '),
        bad,
      )
    }
  })

  test('regression: with no finished request a latency threshold read 0 ms and passed; now it fails, and the others are judged as before', () => {
    const none: Figures = {
      ...figures,
      percentile: () => 0,
      mean: 0,
      min: 0,
      max: 0,
      requests: 0,
      errors: 0,
      rps: 0,
    }
    for (const t of ['p99 < 200ms', 'p50 <= 1s', 'mean < 50ms', 'min < 1ms', 'max < 1s']) {
      const r = evaluate(parseThreshold(t, 't'), none)
      assert.equal(r.ok, false, t)
      assert.ok(Number.isNaN(r.actual), t)
      assert.equal(JSON.parse(JSON.stringify(r)).actual, null)
    }
    assert.equal(evaluate(parseThreshold('errors < 1%', 't'), none).ok, true)
    assert.equal(evaluate(parseThreshold('rps > 10', 't'), none).ok, false)
    assert.equal(evaluate(parseThreshold('dropped < 1%', 't'), none).ok, true)
  })

  test('evaluate against figures, reporting the actual value in the threshold unit', () => {
    assert.deepEqual(evaluate(parseThreshold('p99 < 200ms', 't'), figures), {
      threshold: 'p99 < 200ms',
      ok: false,
      actual: 250,
    })
    assert.equal(evaluate(parseThreshold('p50 < 200ms', 't'), figures).ok, true)
    assert.deepEqual(evaluate(parseThreshold('errors < 1%', 't'), figures), {
      threshold: 'errors < 1%',
      ok: false,
      actual: 1.5,
    })
    assert.equal(evaluate(parseThreshold('errors <= 15', 't'), figures).ok, true)
    assert.equal(evaluate(parseThreshold('rps > 1000', 't'), figures).ok, true)
    assert.equal(evaluate(parseThreshold('max < 1s', 't'), figures).ok, true)
    assert.equal(evaluate(parseThreshold('dropped < 1%', 't'), figures).ok, true)
  })

  test('only latency and error thresholds may stop a run early', () => {
    assert.equal(canAbortEarly(parseThreshold('p99 < 1s', 't')), true)
    assert.equal(canAbortEarly(parseThreshold('errors < 1%', 't')), true)
    assert.equal(canAbortEarly(parseThreshold('rps > 10', 't')), false)
    assert.equal(canAbortEarly(parseThreshold('dropped < 1%', 't')), false)
  })
})
