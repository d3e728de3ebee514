import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { createCache } from '../../../src/cache/index.js'
import { Harness, PATIENT, until } from './support.js'

const h = new Harness()
after(() => h.close())

describe('a write Redis refuses (reply error)', () => {
  it('an OOM write under maxmemory + noeviction is counted and dropped; reads stay on L2', async () => {
    const redis = await h.privateRedis()
    const raw = h.raw(redis.url)
    await raw.config('SET', 'maxmemory-policy', 'noeviction')
    const cache = h.cache('poison:', {
      memory: false,
      redis: { connection: redis.url, timeout: PATIENT, breakerProbeInterval: 20, bus: false },
    })
    await cache.set('a', 'present')
    const errors: string[] = []
    cache.on('l2-error', (e) => errors.push(String((e.error as Error).message)))
    await raw.config('SET', 'maxmemory', '1')
    await cache.set('big', 'x'.repeat(10_000))
    assert.ok(
      errors.some((m) => m.startsWith('OOM')),
      `an OOM l2-error event; got ${errors.join(' | ')}`,
    )
    // several probe intervals: the write must not come back and take the breaker down
    for (let i = 0; i < 30; i++) {
      assert.equal(await cache.get('a'), 'present', `read ${i} of a key that is in Redis`)
      await new Promise((r) => setTimeout(r, 10))
    }
    const l2 = cache.stats().l2
    assert.ok(l2.refused >= 1, `refused counted: ${l2.refused}`)
    assert.equal(l2.breaker, 'closed')
    assert.equal(l2.pendingWrites, 0)
    assert.equal(l2.errors, 0)
    await raw.config('SET', 'maxmemory', '0')
  })

  it('a tagged write hitting WRONGTYPE is dropped without opening the breaker', async () => {
    const prefix = h.prefix('wrongtype')
    const raw = h.raw()
    const cache = h.cache(prefix, {
      memory: false,
      redis: { connection: h.rawUrl, timeout: PATIENT, bus: false },
    })
    await cache.set('a', 1)
    // a foreign string where the tag set would live
    await raw.set(`${prefix}@t:t`, 'not a set')
    await cache.set('b', 2, { tags: ['t'] })
    await until(() => cache.stats().l2.refused >= 1, 'the refusal is counted')
    assert.equal(cache.stats().l2.breaker, 'closed')
    assert.equal(await cache.get('a'), 1)
    // the half-applied entry is not left behind older than the writer's value
    assert.equal(await cache.get('b'), undefined)
  })
})

describe('TTLs are validated where they enter', () => {
  it('a TTL Redis cannot hold is a RangeError naming the option', () => {
    assert.throws(() => createCache({ ttl: 1e300 }), /ttl must be at most/)
    assert.throws(() => createCache({ ttl: '1000000d', grace: 1 }), /options\.ttl/)
    const c = createCache({})
    return assert.rejects(
      c.getOrSet('k', () => 1, { grace: 9e12, ttl: 9e12 }),
      /ttl \+ call options\.grace/,
    )
  })
})
