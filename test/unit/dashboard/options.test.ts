import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { resolveDashboardOptions } from '../../../src/dashboard/options.js'
import { metricPanel } from '../../../src/dashboard/panels.js'
import { createEventLoopSampler, createMonitor } from '../../../src/metrics/index.js'
import { FakeClock } from '../../../src/time.js'

const clock = new FakeClock()
const monitor = createMonitor({
  enabled: false,
  runtime: false,
  clock,
  env: {},
  eventLoop: createEventLoopSampler({ clock }),
})

describe('dashboard options', () => {
  it('applies the defaults and freezes them', () => {
    const o = resolveDashboardOptions({ monitor })
    assert.equal(o.intervalMs, 1000)
    assert.equal(o.windowMs, 15 * 60_000)
    assert.equal(o.capacity, 900)
    assert.equal(o.maxRoutes, 20)
    assert.equal(o.recommendationsMs, 10_000)
    assert.equal(o.maxClients, 50)
    assert.equal(o.share, undefined)
    assert.match(o.instance, /:\d+$/)
    assert.ok(Object.isFrozen(o))
  })

  it('sizes the ring from window and interval', () => {
    assert.equal(resolveDashboardOptions({ monitor, interval: '500ms', window: '1h' }).capacity, 7200)
  })

  it('names the option and the value it refuses', () => {
    assert.throws(() => resolveDashboardOptions({} as never), /needs monitor/)
    assert.throws(
      () => resolveDashboardOptions({ monitor, intervl: '1s' } as never),
      /did you mean "interval"/i,
    )
    assert.throws(
      () => resolveDashboardOptions({ monitor, interval: 50 }),
      /interval must be at least 100ms; received 50ms/,
    )
    assert.throws(
      () => resolveDashboardOptions({ monitor, window: '500ms' }),
      /window must be at least one interval/,
    )
    assert.throws(
      () => resolveDashboardOptions({ monitor, interval: '100ms', window: '7d' }),
      /the most kept is 86400/,
    )
    assert.throws(() => resolveDashboardOptions({ monitor, maxRoutes: 0 }), /maxRoutes .* received 0/)
    assert.throws(() => resolveDashboardOptions({ monitor, instance: 'a b' }), /instance must be/)
    assert.throws(() => resolveDashboardOptions({ monitor, instance: '*' }), /instance must be/)
    assert.throws(() => resolveDashboardOptions({ monitor, maxClients: -1 }), /maxClients/)
    assert.throws(
      () => resolveDashboardOptions({ monitor, share: { redis: 'http://x' } }),
      /redis:\/\/ or rediss:\/\/ URL; received "http:\/\/x"/,
    )
    assert.throws(
      () => resolveDashboardOptions({ monitor, share: { redis: 'redis://x', chanel: 'a' } as never }),
      /did you mean "channel"/i,
    )
  })

  it('checks panels: id shape, unique ids, a sample function', () => {
    const sample = () => ({ a: 1 })
    assert.throws(
      () => resolveDashboardOptions({ monitor, panels: [{ id: 'a b', title: 'x', sample }] }),
      /panel.id/,
    )
    assert.throws(
      () =>
        resolveDashboardOptions({
          monitor,
          panels: [
            { id: 'a', title: 'x', sample },
            { id: 'a', title: 'y', sample },
          ],
        }),
      /two panels have the id "a"/,
    )
    assert.throws(
      () => resolveDashboardOptions({ monitor, panels: [{ id: 'a', title: 'x' } as never] }),
      /sample must be a function/,
    )
    assert.throws(
      () => metricPanel({ id: 'a', title: 'x', metric: 'm', mode: 'sum' as never }),
      /'rate' or 'value'/,
    )
  })
})
