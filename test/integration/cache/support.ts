/**
 * Shared plumbing of the cache integration tests: a harness that gives every cache its own
 * prefix and closes caches, prefixes and private Redis servers afterwards, plus bounded polling.
 * Not a test file itself (the runner collects only *.test.ts).
 */
import assert from 'node:assert/strict'
import { Redis } from 'ioredis'
import { type Cache, type CacheOptions, createCache } from '../../../src/cache/index.js'
import { cleanupPrefix, PrivateRedis, REDIS_URL, uniquePrefix } from '../../helpers/services.js'

/** Polls `cond` until it holds or `ms` pass (then fails the test naming `what`). Never a fixed sleep. */
export async function until(cond: () => boolean | Promise<boolean>, what: string, ms = 2000): Promise<void> {
  const deadline = Date.now() + ms
  for (;;) {
    if (await cond()) return
    if (Date.now() >= deadline) assert.fail(`timed out after ${ms}ms waiting for: ${what}`)
    await new Promise((r) => setTimeout(r, 5))
  }
}

/** Yields to the event loop for `ms` (only to let a background loop run, never to wait for a result). */
export function tick(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms))
}

/** Owns what a test creates on Redis and releases it in `close()`. */
export class Harness {
  private readonly caches: Cache[] = []
  private readonly prefixes: Array<{ prefix: string; url: string }> = []
  private readonly servers: PrivateRedis[] = []
  private readonly clients: Redis[] = []

  /** The shared Redis URL. */
  readonly rawUrl = REDIS_URL

  /** A fresh key prefix on the shared Redis (or on `url`), deleted on close. */
  prefix(name: string, url = REDIS_URL): string {
    const p = uniquePrefix(name)
    this.prefixes.push({ prefix: p, url })
    return p
  }

  /** A cache on the shared Redis under `prefix` (each call: a new instance with its own L1). */
  cache(prefix: string, options: CacheOptions = {}): Cache {
    const c = createCache({ redis: REDIS_URL, prefix, ...options })
    this.caches.push(c)
    return c
  }

  /** A private redis-server this test may pause, stop and restart. */
  async privateRedis(): Promise<PrivateRedis> {
    const r = await PrivateRedis.start()
    this.servers.push(r)
    return r
  }

  /** A raw ioredis client (for checks on what the cache wrote), closed on close. */
  raw(url = REDIS_URL): Redis {
    const r = new Redis(url, { maxRetriesPerRequest: 1 })
    r.on('error', () => {})
    this.clients.push(r)
    return r
  }

  /** Waits until `count` instances subscribe to the invalidation channel of `prefix`. */
  async subscribers(prefix: string, count: number, url = REDIS_URL): Promise<void> {
    const r = this.raw(url)
    const channel = `${prefix}__inv`
    await until(
      async () => {
        const reply = (await r.pubsub('NUMSUB', channel)) as [string, number]
        return Number(reply[1]) >= count
      },
      `${count} subscribers on ${channel}`,
      5000,
    )
  }

  async close(): Promise<void> {
    for (const s of this.servers) s.resume()
    for (const c of this.caches) await c.close()
    for (const r of this.clients) r.disconnect()
    for (const s of this.servers) await s.stop()
    for (const { prefix, url } of this.prefixes) {
      if (url === REDIS_URL) await cleanupPrefix(prefix, url)
    }
  }
}

/** Reads `key` on `cache` until L1 holds `expected` (an L2 read racing an invalidation does not fill L1). */
export async function primeL1(cache: Cache, key: string, expected: unknown): Promise<void> {
  await until(async () => {
    const v = await cache.get(key)
    return isEqual(v, expected) && isEqual(cache.getSync(key), expected)
  }, `L1 of the reader holds ${key}`)
}

function isEqual(a: unknown, b: unknown): boolean {
  try {
    assert.deepEqual(a, b)
    return true
  } catch {
    return false
  }
}
