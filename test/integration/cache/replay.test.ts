import assert from 'node:assert/strict'
import { after, it } from 'node:test'
import { Harness, until } from './support.js'

const h = new Harness()
after(() => h.close())

it("a write replayed after an outage never overwrites another instance's newer write nor resurrects a key it deleted", async () => {
  const redis = await h.privateRedis()
  const raw = h.raw(redis.url)
  const prefix = 'replay:'
  const a = h.cache(prefix, { redis: { connection: redis.url, timeout: 100, breakerProbeInterval: 300 } })
  const b = h.cache(prefix, { redis: { connection: redis.url, timeout: 2000 } })
  await h.ready(a)
  await h.ready(b)
  await a.set('x', 'before')
  await a.set('z', 'before')
  redis.pause()
  await a.set('x', 'A-old') // times out: the breaker opens
  await a.set('z', 'A-old') // breaker open: queued
  await until(() => a.stats().l2.pendingWrites === 2, 'both writes queued')
  redis.resume()
  // B, whose connection never failed, writes and deletes before A's breaker closes
  await b.set('x', 'B-newer')
  await b.delete('z')
  await until(() => a.stats().l2.breaker === 'closed' && a.stats().l2.pendingWrites === 0, 'A replayed')
  const x = await raw.getBuffer(`${prefix}x`)
  assert.ok(x === null || !x.includes('A-old'), 'L2 does not hold the replayed old value of x')
  assert.equal(await raw.exists(`${prefix}z`), 0, 'z stays deleted')
  assert.notEqual(await a.get('x'), 'A-old')
  assert.notEqual(await b.get('x'), 'A-old')
  assert.equal(await a.get('z'), undefined)
  assert.equal(await b.get('z'), undefined)
})

it('writes, deletes and tagged writes made while Redis was unavailable are replayed as deletes when it is back (moved from core.test.ts)', async () => {
  const priv = await h.privateRedis()
  const prefix = 'replay-own:'
  const cache = h.cache(prefix, { redis: { connection: priv.url, timeout: 100 } })
  await until(() => cache.stats().l2.busConnected, 'bus connected')
  await cache.set('gone', 'old')
  await cache.set('changed', 'old')
  priv.pause()
  await cache.delete('gone') // times out: the breaker opens
  await cache.set('changed', 'new') // skipped while open
  await cache.set('added', 'yes', { tags: ['t'] })
  assert.ok(cache.stats().l2.pendingWrites >= 3)
  priv.resume()
  await until(
    () => cache.stats().l2.breaker === 'closed' && cache.stats().l2.pendingWrites === 0,
    'replayed',
    5000,
  )
  const reader = h.cache(prefix, { memory: false, redis: priv.url })
  assert.equal(await reader.get('gone'), undefined, 'the delete made during the outage holds')
  // a write that missed L2 is replayed as an invalidation: L2 never keeps the value it replaced
  assert.equal(await reader.get('changed'), undefined)
  assert.equal(await reader.get('added'), undefined)
  assert.equal(cache.getSync('changed'), undefined, "the writer's own L1 copy is invalidated too")
})
