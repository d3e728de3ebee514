import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { type Cache, type CacheOptions, createCache } from '../../../src/cache/index.js'
import { isHotpathError } from '../../../src/errors.js'
import { cleanupPrefix, PrivateRedis, REDIS_URL, uniquePrefix } from '../../helpers/services.js'

const open: Cache[] = []
const prefixes: string[] = []

/** A cache on the shared Redis; a patient L2 timeout, since these tests are not about timeouts. */
function cacheOn(prefix: string, options: CacheOptions = {}): Cache {
  const c = createCache({ redis: { connection: REDIS_URL, timeout: '2s' }, prefix, ...options })
  open.push(c)
  return c
}

function newPrefix(name: string): string {
  const p = uniquePrefix(name)
  prefixes.push(p)
  return p
}

async function until(cond: () => boolean | Promise<boolean>, what: string, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms
  while (Date.now() < deadline) {
    if (await cond()) return
    await new Promise((r) => setTimeout(r, 10))
  }
  assert.fail(`timed out waiting for: ${what}`)
}

after(async () => {
  for (const c of open) await c.close()
  for (const p of prefixes) await cleanupPrefix(p)
})

describe('cache on Redis: two instances', () => {
  it('round-trips rich values through L2 between instances, compressed or not', async () => {
    const prefix = newPrefix('roundtrip')
    const a = cacheOn(prefix, { redis: { connection: REDIS_URL, compressAbove: 256 } })
    const b = cacheOn(prefix)
    const value = {
      at: new Date(1_700_000_000_000),
      byId: new Map<string, unknown>([['x', { n: 1 }]]),
      set: new Set([1, 2, 3]),
      bytes: Buffer.from([1, 2, 3]),
      big: 12345678901234567890n,
      nested: { list: [1, { deep: 'yes' }] },
    }
    await a.set('rich', value)
    await a.set('large', { text: 'lorem ipsum '.repeat(200) })
    const got = await b.get<typeof value>('rich')
    assert.deepEqual(got, value)
    assert.ok(got?.byId instanceof Map && got.set instanceof Set && Buffer.isBuffer(got.bytes))
    assert.deepEqual(await b.get('large'), { text: 'lorem ipsum '.repeat(200) })
    assert.equal(b.stats().l2.hits, 2)
  })

  it('drops other instances L1 copies on set, delete, deleteByTag and clear', async () => {
    const prefix = newPrefix('coherence')
    const a = cacheOn(prefix)
    const b = cacheOn(prefix)
    await until(() => a.stats().l2.busConnected && b.stats().l2.busConnected, 'bus connected')
    await a.set('k', 'v1', { tags: ['t'] })
    // an L2 read racing with an invalidation does not fill L1, so read until it lands
    await until(async () => (await b.get('k')) === 'v1' && b.getSync('k') === 'v1', 'b caches k in L1')
    await a.set('k', 'v2', { tags: ['t'] })
    await until(() => b.peek('k') === undefined, 'b drops k after a set')
    assert.equal(await b.get('k'), 'v2')
    await a.delete('k')
    await until(() => b.peek('k') === undefined, 'b drops k after a delete')
    assert.equal(await b.get('k'), undefined)
    await a.set('t1', 1, { tags: ['group'] })
    await until(async () => (await b.get('t1')) === 1 && b.peek('t1') === 1, 'b caches t1 in L1')
    await a.deleteByTag('group')
    await until(() => b.peek('t1') === undefined, 'b drops t1 after deleteByTag')
    assert.equal(await b.get('t1'), undefined)
    const na = a.namespace('n1')
    const nb = b.namespace('n1')
    const other = b.namespace('n2')
    await na.set('x', 1)
    await other.set('x', 2)
    await until(async () => (await nb.get('x')) === 1 && nb.peek('x') === 1, 'b caches n1:x in L1')
    await na.clear()
    await until(() => nb.peek('x') === undefined, 'b drops n1:x after clear')
    assert.equal(await nb.get('x'), undefined)
    assert.equal(await other.get('x'), 2)
  })

  it('expireByTag keeps values as stale within grace on every instance', async () => {
    const prefix = newPrefix('expire-tag')
    const a = cacheOn(prefix, { grace: '1h' })
    const b = cacheOn(prefix, { grace: '1h', memory: false })
    await a.set('p', 'old', { tags: ['prices'] })
    await a.expireByTag('prices')
    const failing = () => Promise.reject(new Error('backend down'))
    assert.equal(await b.getOrSet('p', failing), 'old')
    assert.equal(b.stats().staleServes, 1)
    const noGrace = cacheOn(newPrefix('expire-tag-nograce'))
    await noGrace.set('p', 'old', { tags: ['prices'] })
    await noGrace.expireByTag('prices')
    await assert.rejects(noGrace.getOrSet('p', failing), (e) => isHotpathError(e, 'E_LOADER'))
  })

  it('stale-while-revalidate and the soft timeout use a stale copy found in L2', async () => {
    const prefix = newPrefix('swr-l2')
    const a = cacheOn(prefix, { ttl: 30, grace: '1h' })
    const b = cacheOn(prefix, { memory: false, grace: '1h', staleWhileRevalidate: '1h' })
    await a.set('k', 'old')
    await new Promise((r) => setTimeout(r, 50))
    let release!: (v: string) => void
    let calls = 0
    const loader = () => {
      calls++
      return new Promise<string>((r) => {
        release = r
      })
    }
    assert.equal(await b.getOrSet('k', loader), 'old')
    assert.equal(await b.getOrSet('k', loader), 'old')
    assert.equal(calls, 1)
    release('new')
    await until(async () => (await b.get('k')) === 'new', 'the background refresh lands')
    const c = cacheOn(prefix, { memory: false, grace: '1h', timeouts: { soft: 20 } })
    await a.set('s', 'old-s', { ttl: 30 })
    await new Promise((r) => setTimeout(r, 50))
    assert.equal(await c.getOrSet('s', () => new Promise<string>(() => {})), 'old-s')
    assert.equal(c.stats().staleServes, 1)
  })

  it('getMany reads L1 misses with one MGET; getOrSetMany loads only what is missing', async () => {
    const prefix = newPrefix('many')
    const a = cacheOn(prefix)
    const b = cacheOn(prefix, { memory: false })
    await a.set('a', 1)
    await a.set('c', 3)
    assert.deepEqual(await b.getMany(['a', 'b', 'c']), [1, undefined, 3])
    const asked: string[][] = []
    const values = await b.getOrSetMany(['a', 'b', 'd'], async (keys) => {
      asked.push(keys)
      return Object.fromEntries(keys.map((k) => [k, k.toUpperCase()]))
    })
    assert.deepEqual(values, [1, 'B', 'D'])
    assert.deepEqual(asked, [['b', 'd']])
    assert.equal(await a.get('d'), 'D')
  })

  it('a value cached by an older schema is reloaded, not thrown', async () => {
    const prefix = newPrefix('schema')
    const a = cacheOn(prefix)
    const b = cacheOn(prefix)
    const { z } = await import('zod')
    await a.set('u', { id: 1 })
    let calls = 0
    const u = await b.getOrSet(
      'u',
      () => {
        calls++
        return { id: 1, email: 'a@b.c' }
      },
      { schema: z.object({ id: z.number(), email: z.string() }) },
    )
    assert.deepEqual(u, { id: 1, email: 'a@b.c' })
    assert.equal(calls, 1)
  })

  it('set() of a value with a function fails with E_SERIALIZE and keeps the old value', async () => {
    const prefix = newPrefix('serialize')
    const a = cacheOn(prefix)
    const b = cacheOn(prefix)
    await a.set('k', { ok: true })
    await assert.rejects(a.set('k', { fn: () => 1 }), (e) => isHotpathError(e, 'E_SERIALIZE'))
    assert.deepEqual(await a.get('k'), { ok: true })
    assert.deepEqual(await b.get('k'), { ok: true })
  })
})

describe('cache on Redis: stampedes', () => {
  async function stampede(lock: boolean): Promise<{ calls: number; values: unknown[] }> {
    const prefix = newPrefix(`stampede-${lock}`)
    const caches = Array.from({ length: 10 }, () => cacheOn(prefix, { lock }))
    let calls = 0
    const loader = async () => {
      calls++
      await new Promise((r) => setTimeout(r, 50))
      return { answer: 42 }
    }
    const values = await Promise.all(
      caches.flatMap((c) => Array.from({ length: 100 }, () => c.getOrSet('hot', loader))),
    )
    return { calls, values }
  }

  it('with lock: 10 instances x 100 callers run the loader exactly once', async () => {
    const { calls, values } = await stampede(true)
    assert.equal(calls, 1)
    assert.equal(values.length, 1000)
    for (const v of values) assert.deepEqual(v, { answer: 42 })
  })

  it('without lock: single-flight per instance, one loader run per instance', async () => {
    const { calls } = await stampede(false)
    assert.equal(calls, 10)
  })
})

describe('cache on Redis: outages', () => {
  it('a paused Redis costs callers no errors and L2 comes back after resume', async () => {
    const priv = await PrivateRedis.start()
    const prefix = newPrefix('outage')
    try {
      const cache = createCache({ prefix, memory: false, redis: { connection: priv.url, timeout: 100 } })
      open.push(cache)
      const states: string[] = []
      cache.on('breaker', (e) => states.push(e.state))
      await cache.set('warm', 'w')
      let errors = 0
      let calls = 0
      let stop = false
      const loop = (async () => {
        let i = 0
        while (!stop) {
          try {
            await cache.getOrSet(`k${i++ % 10}`, async () => i)
            calls++
          } catch {
            errors++
          }
          await new Promise((r) => setTimeout(r, 2))
        }
      })()
      await new Promise((r) => setTimeout(r, 100))
      priv.pause()
      await until(() => states.includes('open'), 'breaker opens', 3000)
      await new Promise((r) => setTimeout(r, 300))
      priv.resume()
      await until(() => cache.stats().l2.breaker === 'closed', 'breaker closes after resume', 3000)
      await until(async () => (await cache.get('warm')) === 'w', 'L2 serves again', 3000)
      stop = true
      await loop
      assert.equal(errors, 0)
      assert.ok(calls > 0)
      assert.ok(cache.stats().l2.timeouts > 0)
    } finally {
      priv.resume()
      await priv.stop()
    }
  })

  it('writes and deletes made while Redis was unavailable are replayed as deletes when it is back', async () => {
    const priv = await PrivateRedis.start()
    const prefix = newPrefix('replay')
    try {
      const cache = createCache({ prefix, redis: { connection: priv.url, timeout: 100 } })
      open.push(cache)
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
      const reader = createCache({ prefix, memory: false, redis: priv.url })
      open.push(reader)
      assert.equal(await reader.get('gone'), undefined, 'the delete made during the outage holds')
      // a write that missed L2 is replayed as an invalidation: L2 never keeps the value it replaced
      assert.equal(await reader.get('changed'), undefined)
      assert.equal(await reader.get('added'), undefined)
      assert.equal(cache.getSync('changed'), undefined, "the writer's own L1 copy is invalidated too")
    } finally {
      priv.resume()
      await priv.stop()
    }
  })

  it('a slow first connection is not taken for a slow Redis (regression: new caches opened their breaker)', async () => {
    const priv = await PrivateRedis.start()
    const prefix = newPrefix('first-connect')
    try {
      const writer = createCache({ prefix, memory: false, redis: priv.url })
      open.push(writer)
      await writer.set('k', 'v')
      priv.pause()
      const cache = createCache({ prefix, memory: false, redis: { connection: priv.url, timeout: 100 } })
      open.push(cache)
      const states: string[] = []
      cache.on('breaker', (e) => states.push(e.state))
      const read = cache.get('k')
      await new Promise((r) => setTimeout(r, 400)) // four timeouts' worth of waiting to connect
      priv.resume()
      assert.equal(await read, 'v', 'the read waited for the connection instead of timing out')
      assert.deepEqual(states, [])
    } finally {
      priv.resume()
      await priv.stop()
    }
  })

  it('a stopped Redis: reads keep working; after restart the bus gap flushes L1', async () => {
    const priv = await PrivateRedis.start()
    const prefix = newPrefix('gap')
    try {
      const cache = createCache({ prefix, redis: { connection: priv.url, timeout: 100 } })
      open.push(cache)
      let flushes = 0
      cache.on('flush', () => flushes++)
      await until(() => cache.stats().l2.busConnected, 'bus connected')
      await cache.set('k', 'v')
      assert.equal(cache.getSync('k'), 'v')
      await priv.stop()
      assert.equal(await cache.getOrSet('other', () => 'loaded'), 'loaded')
      assert.equal(await cache.get('k'), 'v', 'L1 still serves while Redis is gone')
      await priv.start()
      await until(() => flushes > 0, 'L1 flushed after the bus reconnects', 5000)
      assert.equal(cache.getSync('k'), undefined)
      assert.ok(cache.stats().l2.busGaps >= 1)
      await until(() => cache.stats().l2.breaker === 'closed', 'breaker closed', 3000)
      await cache.set('after', 1)
      const fresh = createCache({ prefix, redis: priv.url, memory: false })
      open.push(fresh)
      assert.equal(await fresh.get('after'), 1)
    } finally {
      await priv.stop()
    }
  })
})
