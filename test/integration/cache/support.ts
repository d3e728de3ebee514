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

/**
 * L2 timeout of the caches tests create when the test is not about timeouts: generous, because
 * on a loaded 2-core machine (test files run in parallel) a new connection or a Lua call can take
 * longer than the 200ms default, and a timed-out write is silently skipped by design.
 */
export const PATIENT = 2000

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

  /**
   * A cache under `prefix` (each call: a new instance with its own L1), on the shared Redis with
   * the PATIENT timeout unless `options.redis` says otherwise.
   */
  cache(prefix: string, options: CacheOptions = {}): Cache {
    const c = createCache({ redis: { connection: REDIS_URL, timeout: PATIENT }, prefix, ...options })
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

  /** Waits until `cache` is connected: its bus subscribed and its L2 breaker closed. */
  async ready(cache: Cache): Promise<void> {
    await until(
      () => cache.stats().l2.busConnected && cache.stats().l2.breaker === 'closed',
      'the cache is connected to Redis',
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

let barriers = 0

/**
 * Waits until every invalidation `writer` published so far has been applied by `reader`: a marker
 * only in the reader's L1 is deleted through the writer, and pub/sub delivers one publisher's
 * messages in order, so once the marker is gone the earlier messages have arrived too.
 */
export async function barrier(writer: Cache, reader: Cache): Promise<void> {
  const marker = `__barrier:${barriers++}`
  await reader.set(marker, 1, { skipL2: true })
  const deadline = Date.now() + 5000
  // repeated in case the reader was not subscribed yet when the first delete was published
  while (Date.now() < deadline) {
    await writer.delete(marker)
    const wait = Date.now() + 250
    while (Date.now() < wait) {
      if (reader.getSync(marker) === undefined) return
      await tick(5)
    }
  }
  assert.fail("timed out waiting for the writer's invalidations to reach the reader")
}

/**
 * Reads `key` on `reader` until its L1 holds `expected`. An L2 read racing an invalidation does
 * not fill L1, and the writer's own invalidation of its last set may arrive after the read and
 * drop the copy: with `writer`, a barrier makes sure the copy outlived those messages.
 */
export async function primeL1(reader: Cache, key: string, expected: unknown, writer?: Cache): Promise<void> {
  await until(
    async () => {
      const v = await reader.get(key)
      if (!isEqual(v, expected) || !isEqual(reader.getSync(key), expected)) return false
      if (writer !== undefined) await barrier(writer, reader)
      return isEqual(reader.getSync(key), expected)
    },
    `L1 of the reader holds ${key}`,
    5000,
  )
}

function isEqual(a: unknown, b: unknown): boolean {
  try {
    assert.deepEqual(a, b)
    return true
  } catch {
    return false
  }
}
