/**
 * `npm start`: the cache at work on embedded defaults (memory only; set REDIS_URL to add the
 * Redis tier). Shows hits per tier, a stampede collapsed to one load, and a backend outage
 * survived by serving stale values within grace. Replaced by the reference server later.
 */
import { createCache } from '../src/cache/index.js'

const redis = process.env.REDIS_URL
const cache = createCache({
  name: 'demo',
  ttl: '2s',
  grace: '1m',
  memory: { maxEntries: 10_000, maxBytes: 32 * 1024 * 1024 },
  ...(redis ? { redis, prefix: `demo:${process.pid}:` } : {}),
})

let backendUp = true
let loads = 0
/** A slow backend (~80 ms per call) that can go down. */
async function slowBackend(id: string): Promise<{ id: string; name: string; loadedAt: string }> {
  loads++
  await new Promise((r) => setTimeout(r, 80))
  if (!backendUp) throw new Error('backend unavailable')
  return { id, name: `Product ${id}`, loadedAt: new Date().toISOString() }
}

const t = () => performance.now()
console.log(
  `hotpath cache demo — tiers: L1 memory${redis ? ` + L2 Redis (${redis})` : ' (set REDIS_URL to add Redis)'}\n`,
)

// 1. a stampede: 1,000 concurrent requests for the same cold key
let t0 = t()
await Promise.all(Array.from({ length: 1000 }, () => cache.getOrSet('product:1', () => slowBackend('1'))))
console.log(
  `1. stampede: 1,000 concurrent getOrSet on a cold key -> ${loads} backend call, ${(t() - t0).toFixed(0)} ms`,
)

// 2. hits: the same key again, many times
t0 = t()
for (let i = 0; i < 100_000; i++) await cache.getOrSet('product:1', () => slowBackend('1'))
const s = cache.stats()
console.log(
  `2. 100,000 hits in ${(t() - t0).toFixed(0)} ms — L1 hits ${s.l1.hits}, L2 hits ${s.l2.hits}, loader calls ${s.loader.calls}`,
)

// 3. an outage: the backend goes down after the value expired; grace serves the stale value
await new Promise((r) => setTimeout(r, 2100))
backendUp = false
const stale = await cache.getOrSet('product:1', () => slowBackend('1'))
console.log(
  `3. backend down, value expired: served stale (loaded at ${stale.loadedAt}), no error; stale serves: ${cache.stats().staleServes}`,
)
backendUp = true
const fresh = await cache.getOrSet('product:1', () => slowBackend('1'))
console.log(`   backend back: fresh value loaded at ${fresh.loadedAt}`)

console.log('\nstats:', JSON.stringify(cache.stats(), null, 2))
await cache.clear()
await cache.close()
