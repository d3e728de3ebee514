import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Histogram, Registry } from 'prom-client'
import { createMonitor } from '../../../src/metrics/index.js'

const BUCKETS = [0.001, 0.01, 0.1, 1]
// values on, between, below and above the bounds (prom-client's `le` is inclusive)
const VALUES = [0, 0.001, 0.0010001, 0.005, 0.01, 0.5, 1, 1.5, 42]

describe('bound histogram', () => {
  it("gives prom-client's histogram text for the same observations", async () => {
    const m = createMonitor({ env: {}, enabled: false, runtime: false })
    const ours = m.boundHistogram('hp_bound_seconds', 'bound', ['route', 'status_class'], BUCKETS)
    const a = ours.bind({ route: '/a', status_class: '2xx' })
    const b = ours.bind({ route: '/b', status_class: '5xx' })
    const peer = new Registry()
    const h = new Histogram({
      name: 'hp_bound_seconds',
      help: 'bound',
      labelNames: ['route', 'status_class'],
      buckets: BUCKETS,
      registers: [peer],
    })
    for (const v of VALUES) {
      a.observe(v)
      h.observe({ route: '/a', status_class: '2xx' }, v)
    }
    b.observe(0.2)
    h.observe({ route: '/b', status_class: '5xx' }, 0.2)
    assert.equal(
      await m.registry.getSingleMetricAsString('hp_bound_seconds'),
      await peer.getSingleMetricAsString('hp_bound_seconds'),
    )
    m.close()
  })

  it('shares one series between callers that bind the same labels on one monitor', async () => {
    const m = createMonitor({ env: {}, enabled: false, runtime: false })
    const one = m.boundHistogram('hp_shared_seconds', 'shared', ['route']).bind({ route: '/x' })
    const two = m.boundHistogram('hp_shared_seconds', 'shared', ['route']).bind({ route: '/x' })
    one.observe(0.002)
    two.observe(0.003)
    const text = await m.metrics()
    assert.match(text, /^hp_shared_seconds_count\{route="\/x"\} 2$/m)
    assert.equal(text.match(/^hp_shared_seconds_count/gm)?.length, 1)
    m.close()
  })

  it('admits label sets through the cardinality guard: beyond the cap they share the overflow series', async () => {
    const warnings: string[] = []
    const m = createMonitor({
      env: {},
      enabled: false,
      runtime: false,
      maxSeriesPerMetric: 2,
      onWarning: (w) => warnings.push(String(w)),
    })
    const h = m.boundHistogram('hp_capped_seconds', 'capped', ['route'])
    for (const r of ['/1', '/2', '/3', '/4']) h.bind({ route: r }).observe(0.01)
    const text = await m.metrics()
    assert.match(text, /^hp_capped_seconds_count\{route="__overflow__"\} 2$/m)
    assert.equal(text.match(/^hp_capped_seconds_count/gm)?.length, 3)
    assert.equal(warnings.length, 1)
    m.close()
  })
})

describe('live gauge', () => {
  it('sums the deltas of every caller on one monitor into one series', async () => {
    const m = createMonitor({ env: {}, enabled: false, runtime: false })
    const g1 = m.liveGauge('hp_busy', 'busy')
    const g2 = m.liveGauge('hp_busy', 'busy')
    g1.add(3)
    g2.add(2)
    g1.add(-1)
    const text = await m.metrics()
    assert.match(text, /^hp_busy 4$/m)
    assert.equal(text.match(/^hp_busy /gm)?.length, 1)
    m.close()
  })
})
