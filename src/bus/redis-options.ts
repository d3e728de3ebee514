/**
 * The options of the Redis Streams transport: declared with their defaults, validated once, and
 * resolved into the numbers the transport runs on (class read budgets included).
 */
import type { Cluster, Redis } from 'ioredis'
import { assertKnownKeys, received } from '../options.js'
import { type Clock, type Duration, systemClock, toTimerMs } from '../time.js'
import { positiveInt } from './batch-options.js'

/** Options of `redisTransport()`. */
export interface RedisTransportOptions {
  /** A connected ioredis client (or Cluster), or a URL (ioredis is then loaded and owned). */
  redis: Redis | Cluster | string
  /** Key prefix. @default 'hp:bus:' */
  prefix?: string
  /** Pending entries idle this long are taken over from a dead consumer. @default '5s' */
  claimIdle?: Duration
  /** Longest blocking read (also how fast close() returns). @default '1s' */
  block?: Duration
  /** Most entries read per turn (split across classes by weight). @default 256 */
  readCount?: number
  /** How often due retries are moved into the streams. @default '50ms' */
  promoteEvery?: Duration
  /** Dead letters kept per address (approximate trimming). @default 100000 */
  maxDeadLetters?: number
  /**
   * Most messages written as one stream entry: the sends to one address and class in one
   * event-loop turn share an entry (one XADD, one read slot, one ack); 1 writes one entry each.
   * @default 100
   */
  pack?: number
  /** Class weights used to split `readCount` (urgent..low). @default [8, 4, 2, 1] */
  readWeights?: readonly number[]
  /** @default systemClock */
  clock?: Clock
}

const KNOWN = [
  'redis',
  'prefix',
  'claimIdle',
  'block',
  'readCount',
  'promoteEvery',
  'maxDeadLetters',
  'pack',
  'readWeights',
  'clock',
] as const

/** Validates the options of `redisTransport()`. */
export function resolveRedisTransportOptions(options: RedisTransportOptions) {
  assertKnownKeys(options, KNOWN, 'redisTransport options')
  let url: string | undefined
  let client: Redis | Cluster | undefined
  if (typeof options.redis === 'string') url = options.redis
  else if (options.redis !== null && typeof options.redis === 'object') client = options.redis
  else throw new TypeError('redis must be an ioredis client, a Cluster or a URL string')
  const prefix: unknown = options.prefix ?? 'hp:bus:'
  if (typeof prefix !== 'string' || prefix === '')
    throw new TypeError(`prefix must be a non-empty string; received ${received(prefix)}`)
  if (/[{}]/.test(prefix)) throw new TypeError(`prefix must not contain braces; received ${prefix}`)
  const readCount = positiveInt(options.readCount ?? 256, 'readCount')
  const w: unknown = options.readWeights ?? [8, 4, 2, 1]
  // regression: [0, 0, 0, 0] (or three weights) gave NaN read counts, and every read of the
  // consumer failed in Redis and was retried for good: a consumer that never consumed
  if (
    !Array.isArray(w) ||
    w.length !== 4 ||
    !w.every((x) => typeof x === 'number' && Number.isFinite(x) && x > 0)
  ) {
    throw new RangeError(
      `readWeights must be four positive numbers (urgent, high, normal, low); received ${Array.isArray(w) ? JSON.stringify(w) : received(w)}`,
    )
  }
  const total = w.reduce((x, y) => x + y, 0)
  return Object.freeze({
    url,
    client,
    prefix,
    clock: options.clock ?? systemClock,
    claimIdle: toTimerMs(options.claimIdle ?? '5s', 'claimIdle'),
    blockMs: toTimerMs(options.block ?? '1s', 'block'),
    readCount,
    promoteEvery: toTimerMs(options.promoteEvery ?? '50ms', 'promoteEvery'),
    maxDead: positiveInt(options.maxDeadLetters ?? 100_000, 'maxDeadLetters'),
    pack: positiveInt(options.pack ?? 100, 'pack'),
    budgets: Object.freeze(w.map((x) => Math.max(1, Math.round((readCount * x) / total)))),
  })
}

/** Resolved options of the Redis transport. */
export type ResolvedRedisTransportOptions = ReturnType<typeof resolveRedisTransportOptions>
