import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { createCache } from '../../../src/cache/index.js'
import { createMonitor } from '../../../src/metrics/index.js'
import { circuitBreaker, createPool } from '../../../src/resilience/index.js'

const quiet = () => createMonitor({ enabled: false, runtime: false, onWarning: () => {}, env: {} })

describe('components detach from the monitor when they close', () => {
  it('regression: 4,000 caches created and closed were kept in the snapshot forever', async () => {
    const m = quiet()
    for (let i = 0; i < 4000; i++) {
      const cache = createCache({ monitor: m, name: `c${i}` })
      await cache.set('k', i)
      await cache.close()
    }
    assert.deepEqual(m.snapshot().components, [])
    const kept = createCache({ monitor: m, name: 'kept' })
    assert.deepEqual(
      m.snapshot().components.map((c) => c.name),
      ['kept'],
    )
    await kept.close()
    assert.equal(m.snapshot().components.length, 0)
    m.close()
  })

  it('a disposed circuit breaker detaches; the disposer is idempotent', () => {
    const m = quiet()
    const b = circuitBreaker({ monitor: m, name: 'payments' })
    assert.equal(m.snapshot().components.length, 1)
    b.dispose()
    b.dispose()
    assert.equal(m.snapshot().components.length, 0)
    m.close()
  })

  it('a drained pool detaches', async () => {
    const m = quiet()
    const pool = createPool({ monitor: m, name: 'db', max: 2, create: () => ({}) })
    assert.equal(m.snapshot().components.length, 1)
    await pool.drain()
    assert.equal(m.snapshot().components.length, 0)
    m.close()
  })

  it('a detached component stops feeding metrics', async () => {
    const m = quiet()
    const cache = createCache({ monitor: m, name: 'gone' })
    await cache.get('a')
    await cache.close()
    const detach = m.attach(cache)
    detach()
    detach()
    assert.equal(m.snapshot().components.length, 0)
    m.close()
  })
})
