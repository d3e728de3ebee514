import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Registry } from 'prom-client'
import { createCache } from '../../../src/cache/index.js'
import { createMonitor } from '../../../src/metrics/index.js'
import { circuitBreaker } from '../../../src/resilience/index.js'

describe('Prometheus exposition', () => {
  it("is byte for byte prom-client's text (escaping, NaN, histograms, runtime metrics)", async () => {
    const m = createMonitor({ env: {}, enabled: false, onWarning: () => {} })
    m.start()
    const cache = createCache({ monitor: m, name: 'odd "name" \\ here' })
    await cache.getOrSet('a', () => 1)
    await cache.get('a')
    circuitBreaker({ monitor: m, name: 'payments' })
    m.measure('op', () => 1)
    m.counter('hp_escapes_total', 'help with \\ and \n a newline', ['k']).inc({ k: 'a\nb"c\\d' }, 2)
    m.gauge('hp_special', 'special values', ['v']).set({ v: 'nan' }, Number.NaN)
    m.gauge('hp_special', 'special values', ['v']).set({ v: 'inf' }, Number.POSITIVE_INFINITY)
    m.gauge('hp_special', 'special values', ['v']).set({ v: 'ninf' }, Number.NEGATIVE_INFINITY)
    m.collect()
    m.stop() // nothing records between the two scrapes
    assert.equal(await m.metrics(), await m.registry.metrics())
    m.close()
    await cache.close()
  })

  it('regression: a 10,000-series scrape ran in long blocks; now it yields to the event loop as it goes', async () => {
    const m = createMonitor({ env: {}, enabled: false, runtime: false, maxSeriesPerMetric: 100_000 })
    const big = m.counter('hp_one_big_total', 'one metric of 10,000 series', ['k'])
    for (let i = 0; i < 10_000; i++) big.inc({ k: `v${i}` }, i)
    let turns = 0
    let stop = false
    const ping = () => {
      turns++
      if (!stop) setImmediate(ping)
    }
    setImmediate(ping)
    const text = await m.metrics()
    stop = true
    assert.equal(text, await m.registry.metrics())
    assert.ok(turns > 1, `the loop turned ${turns} times during the scrape`)
  })

  it('falls back to prom-client for registries with default labels', async () => {
    const registry = new Registry()
    registry.setDefaultLabels({ app: 'x' })
    const m = createMonitor({ env: {}, enabled: false, runtime: false, registry })
    m.measure('op', () => 1)
    const text = await m.metrics()
    assert.equal(text, await registry.metrics())
    assert.match(text, /app="x"/)
  })
})
