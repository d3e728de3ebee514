import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { HealthRegistry } from '../../../src/metrics/health.js'
import { FakeClock } from '../../../src/time.js'

const flush = async () => {
  for (let i = 0; i < 3; i++) await new Promise<void>((r) => setImmediate(r))
}

describe('health checks', () => {
  it('a hanging check fails after its timeout and makes the status unhealthy', async () => {
    const clock = new FakeClock()
    const h = new HealthRegistry(clock)
    let aborted = false
    h.add({
      name: 'db',
      timeout: 500,
      check: (signal) => new Promise(() => signal.addEventListener('abort', () => (aborted = true))),
    })
    h.add({ name: 'cache', check: () => true })
    const p = h.report()
    await flush()
    clock.advance(500)
    const r = await p
    assert.equal(r.status, 'unhealthy')
    assert.deepEqual(r.reasons, ['db: unhealthy (no answer within 500ms)'])
    assert.equal(aborted, true)
    assert.equal(r.components.find((c) => c.name === 'cache')?.status, 'healthy')
  })

  it('a failing non-critical check degrades; statuses and details pass through', async () => {
    const h = new HealthRegistry(new FakeClock())
    h.add({ name: 'search', critical: false, check: () => false })
    h.add({ name: 'queue', check: () => ({ status: 'degraded', details: { lag: 12 } }) })
    const r = await h.report()
    assert.equal(r.status, 'degraded')
    assert.deepEqual(r.components.find((c) => c.name === 'queue')?.details, { lag: 12 })
  })

  it('liveness and readiness run their own checks; throws count as unhealthy', async () => {
    const h = new HealthRegistry(new FakeClock())
    h.add({ name: 'loop', kind: 'liveness', check: () => true })
    h.add({
      name: 'db',
      check: () => {
        throw new Error('refused')
      },
    })
    assert.equal((await h.report('liveness')).status, 'healthy')
    const ready = await h.report('readiness')
    assert.equal(ready.status, 'unhealthy')
    assert.match(ready.reasons[0] ?? '', /refused/)
  })

  it('rejects bad checks', () => {
    const h = new HealthRegistry(new FakeClock())
    assert.throws(() => h.add({ name: '', check: () => true }), /name/)
    assert.throws(() => h.add({ name: 'x', check: 'no' as never }), /check must be a function/)
    assert.throws(() => h.add({ name: 'x', check: () => true, kind: 'startup' as never }), /kind/)
  })
})
