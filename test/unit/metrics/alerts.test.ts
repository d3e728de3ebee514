import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { type AlertEvent, AlertManager, type AlertRule } from '../../../src/metrics/alerts.js'
import { FakeClock } from '../../../src/time.js'

const flush = async () => {
  for (let i = 0; i < 3; i++) await new Promise<void>((r) => setImmediate(r))
}

function setup(rule: Partial<AlertRule>) {
  const clock = new FakeClock()
  const warnings: string[] = []
  const m = new AlertManager(clock, (w) => warnings.push(w))
  const events: AlertEvent[] = []
  m.add({
    name: 'latency',
    value: 'p99',
    op: '>',
    threshold: 100,
    onFire: (e) => {
      events.push(e)
    },
    onResolve: (e) => {
      events.push(e)
    },
    ...rule,
  })
  const at = (p99: number, advance = 0) => {
    clock.advance(advance)
    m.evaluate({ p99 })
    return m.status()[0]?.state
  }
  return { clock, m, events, at, warnings }
}

describe('alerts', () => {
  it('fires only after the condition held for `for`, and resolves when it clears', async () => {
    const { at, events } = setup({ for: 1000, cooldown: 0 })
    assert.equal(at(150), 'pending')
    assert.equal(at(150, 999), 'pending')
    assert.equal(at(50, 1), 'inactive', 'a dip before `for` resets it')
    assert.equal(at(150, 1), 'pending')
    assert.equal(at(150, 1000), 'firing')
    await flush()
    assert.deepEqual(
      events.map((e) => e.state),
      ['firing'],
    )
    assert.equal(events[0]?.value, 150)
    assert.equal(at(50, 10), 'inactive')
    await flush()
    assert.deepEqual(
      events.map((e) => e.state),
      ['firing', 'resolved'],
    )
  })

  it('keepFiringFor holds the alert through short dips', async () => {
    const { at, events } = setup({ keepFiringFor: 500, cooldown: 0 })
    assert.equal(at(150), 'firing')
    assert.equal(at(50, 100), 'firing')
    assert.equal(at(150, 100), 'firing', 'back above: the clearing clock restarts')
    assert.equal(at(50, 100), 'firing')
    assert.equal(at(50, 499), 'firing')
    assert.equal(at(50, 1), 'inactive')
    await flush()
    assert.deepEqual(
      events.map((e) => e.state),
      ['firing', 'resolved'],
    )
  })

  it('cooldown spaces firing notifications of a flapping alert, and reminds while it keeps firing', async () => {
    const { at, events } = setup({ cooldown: 1000 })
    at(150)
    at(50, 10)
    at(150, 10) // fires again within the cooldown: no new notification
    await flush()
    assert.deepEqual(
      events.map((e) => e.state),
      ['firing', 'resolved'],
    )
    at(150, 1000) // still firing after the cooldown: reminder
    await flush()
    assert.deepEqual(
      events.map((e) => e.state),
      ['firing', 'resolved', 'firing'],
    )
  })

  it('rate and ratio values', () => {
    const clock = new FakeClock()
    const m = new AlertManager(clock, () => {})
    m.add({ name: 'errors/s', value: { rate: 'errors' }, op: '>', threshold: 5 })
    m.add({ name: 'error ratio', value: { ratio: ['errors', 'calls'] }, op: '>=', threshold: 0.5 })
    m.evaluate({ errors: 0, calls: 10 })
    clock.advance(1000)
    m.evaluate({ errors: 10, calls: 20 })
    const [rate, ratio] = m.status()
    assert.equal(rate?.value, 10)
    assert.equal(rate?.state, 'firing')
    assert.equal(ratio?.value, 0.5)
    assert.equal(ratio?.state, 'firing')
  })

  it('a throwing callback is reported, never thrown at the monitor', async () => {
    const { at, warnings, m } = setup({
      cooldown: 0,
      onFire: () => {
        throw new Error('pager down')
      },
    })
    at(150)
    await flush()
    assert.match(warnings[0] ?? '', /pager down/)
    assert.equal(m.status()[0]?.notificationErrors, 1)
  })

  it('rejects invalid rules naming the field', () => {
    const m = new AlertManager(new FakeClock(), () => {})
    assert.throws(() => m.add({ name: '', value: 'x', op: '>', threshold: 1 }), /name/)
    assert.throws(() => m.add({ name: 'a', value: 'x', op: '!=' as never, threshold: 1 }), /op/)
    assert.throws(() => m.add({ name: 'a', value: 'x', op: '>', threshold: Number.NaN }), /threshold/)
    assert.throws(() => m.add({ name: 'a', value: 'x', op: '>', threshold: 1, for: 'soon' as never }), /for/)
    assert.throws(
      () => m.add({ name: 'a', value: 'x', op: '>', threshold: 1, webhook: 'ftp://x' }),
      /webhook/,
    )
    assert.throws(() => m.add({ name: 'a', value: 5 as never, op: '>', threshold: 1 }), /value/)
  })
})
