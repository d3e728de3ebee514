/** Options of the multi-instance view: where instances publish their frames. */
import { assertKnownKeys } from '../options.js'
import { type Duration, toTimerMs } from '../time.js'

/** The part of an ioredis client the multi-instance view uses. */
export interface ShareRedisLike {
  publish(channel: string, message: string): Promise<unknown>
  duplicate(): ShareSubscriberLike
}

/** A subscriber connection (what `duplicate()` returns). */
export interface ShareSubscriberLike {
  subscribe(channel: string): Promise<unknown>
  on(event: 'message', listener: (channel: string, message: string) => void): unknown
  quit(): Promise<unknown>
}

/** Options of `share`: instances sharing a Redis publish their frames and show each other's. */
export interface ShareOptions {
  /** An ioredis client (duplicated once for the subscription) or a Redis URL. */
  redis: ShareRedisLike | string
  /** Pub/sub channel; give each deployment (and each test) its own. @default 'hotpath:dashboard' */
  channel?: string | undefined
  /** An instance silent this long leaves the view (and the aggregate). @default 3 intervals */
  staleAfter?: Duration | undefined
}

/** Resolved share options. */
export interface ResolvedShare {
  readonly redis: ShareRedisLike | string
  readonly channel: string
  readonly staleAfterMs: number
}

/** Validates the share options. */
export function resolveShareOptions(o: ShareOptions, intervalMs: number): ResolvedShare {
  if (o === null || typeof o !== 'object') throw new TypeError('share must be an object { redis, channel? }')
  assertKnownKeys(o, ['redis', 'channel', 'staleAfter'], 'share')
  const redis = o.redis
  if (
    typeof redis !== 'string' &&
    (redis === null ||
      typeof redis !== 'object' ||
      typeof redis.publish !== 'function' ||
      typeof redis.duplicate !== 'function')
  ) {
    throw new TypeError('share.redis must be an ioredis client or a redis:// URL')
  }
  if (typeof redis === 'string' && !/^rediss?:\/\//.test(redis)) {
    throw new TypeError(`share.redis must be a redis:// or rediss:// URL; received ${JSON.stringify(redis)}`)
  }
  const channel = o.channel ?? 'hotpath:dashboard'
  if (typeof channel !== 'string' || channel === '')
    throw new TypeError('share.channel must be a non-empty string')
  const staleAfterMs =
    o.staleAfter === undefined ? 3 * intervalMs : toTimerMs(o.staleAfter, 'share.staleAfter')
  if (staleAfterMs < intervalMs) throw new RangeError('share.staleAfter must be at least one interval')
  return Object.freeze({ redis, channel, staleAfterMs })
}
