// Regression: two components of one kind and one name on one monitor (two caches left at the
// default name, two buses consuming one address) wrote the same series: each collection's gauges
// showed whichever was collected last, and closing one removed the series the other still fed.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { createCache } from '../../../src/cache/index.js'
import { createMonitor } from '../../../src/metrics/index.js'

function monitor(warnings: string[]) {
  return createMonitor({ enabled: false, runtime: false, onWarning: (w) => warnings.push(w), env: {} })
}

/** The `cache_entries` samples of the exposition, by their cache label. */
async function entries(m: ReturnType<typeof createMonitor>): Promise<Record<string, number>> {
  m.collect()
  const out: Record<string, number> = {}
  for (const [, cache, v] of (await m.metrics()).matchAll(
    /^hotpath_cache_entries\{cache="([^"]+)"\} (\S+)$/gm,
  ))
    out[cache as string] = Number(v)
  return out
}

describe('components of one kind and name on one monitor', () => {
  it('regression: two caches of one name shared one gauge series, and closing one removed it', async () => {
    const warnings: string[] = []
    const m = monitor(warnings)
    const a = createCache({ monitor: m })
    const b = createCache({ monitor: m })
    for (let i = 0; i < 3; i++) await a.set(`k${i}`, i)
    assert.deepEqual(await entries(m), { cache: 3, 'cache#2': 0 })
    assert.equal(warnings.length, 1)
    assert.match(
      warnings[0] as string,
      /a second cache named "cache" is attached; its series are labelled "cache#2"/,
    )
    assert.deepEqual(
      m.snapshot().components.map((c) => c.name),
      ['cache', 'cache#2'],
    )
    await b.close()
    assert.deepEqual(await entries(m), { cache: 3 }, 'the first cache keeps its series')
    // the name is free again once its holder is gone
    await a.close()
    const c = createCache({ monitor: m })
    await c.set('x', 1)
    assert.deepEqual(await entries(m), { cache: 1 })
    await c.close()
    m.close()
  })
})
