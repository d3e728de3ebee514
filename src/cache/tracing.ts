/**
 * The cache's `diagnostics_channel` TracingChannels, for OpenTelemetry or any tracer: an
 * operation (`get`, `getOrSet`) with the tier that answered, each loader run, and each call to
 * Redis. Nothing is published, and nothing allocated, unless somebody subscribes
 * (`hasSubscribers` is checked first on every path).
 */
import diagnostics_channel from 'node:diagnostics_channel'

/** Which tier answered an operation. */
export type CacheAnswer =
  /** the in-process memory tier */
  | 'l1'
  /** Redis */
  | 'l2'
  /** this call's loader ran */
  | 'loader'
  /** a stale value was served (grace, stale-while-revalidate, soft or hard timeout, loader error) */
  | 'stale'
  /** the call joined a load another caller had started */
  | 'joined'
  /** `get` only: no tier had a fresh value */
  | 'miss'

/** The context of a `hotpath:cache.get` or `hotpath:cache.getOrSet` trace. */
export interface CacheOperationTrace {
  /** The cache's name. */
  readonly cache: string
  /** The key as the caller gave it (without the namespace). */
  readonly key: string
  /** The namespace path of the view the call was made on ('' for the root). */
  readonly namespace: string
  /** Set when the operation settles successfully: which tier answered. */
  answer?: CacheAnswer
}

/** The context of a `hotpath:cache.load` trace (one loader run). */
export interface CacheLoadTrace {
  /** The cache's name. */
  readonly cache: string
  /** The key as the caller gave it. */
  readonly key: string
  /** An early refresh (XFetch or stale-while-revalidate), not a caller's miss. */
  readonly early: boolean
  /** Part of a getOrSetMany batch (the batch function is shared by the keys). */
  readonly batched: boolean
  /**
   * Set when the loader failed or timed out and a stale value (within grace) was served in its
   * place: the loader's error. The trace then settles with the stale value, not an error event.
   */
  servedStale?: unknown
}

/** The L2 operations that are traced. */
export type L2Operation =
  | 'get'
  | 'mget'
  | 'set'
  | 'del'
  | 'deleteByTag'
  | 'expireByTag'
  | 'scan'
  | 'clear'
  | 'lock'
  | 'unlock'
  | 'publish'

/** The context of a `hotpath:cache.l2` trace (one call to Redis). */
export interface CacheL2Trace {
  /** The operation. */
  readonly operation: L2Operation
  /** The Redis key prefix of the cache. */
  readonly prefix: string
  /** The number of keys (or tags) the call touches. */
  readonly keys: number
  /**
   * Set when the call settles: 'ok', 'unavailable' (a connection error or the L2 timeout; the
   * cache went on without L2) or 'refused' (Redis answered with an error reply). L2 calls never
   * reject: the cache turns failures into misses.
   */
  outcome?: 'ok' | 'unavailable' | 'refused'
}

/**
 * The cache's tracing channels, named `hotpath:cache.<operation>`. Subscribe with
 * `channel.subscribe({ start, end, asyncStart, asyncEnd, error })`.
 */
export const tracingChannels = Object.freeze({
  /** `cache.get()`: context {@link CacheOperationTrace}. */
  get: diagnostics_channel.tracingChannel<unknown, CacheOperationTrace>('hotpath:cache.get'),
  /** `cache.getOrSet()`: context {@link CacheOperationTrace}. */
  getOrSet: diagnostics_channel.tracingChannel<unknown, CacheOperationTrace>('hotpath:cache.getOrSet'),
  /** Each loader run: context {@link CacheLoadTrace}. */
  load: diagnostics_channel.tracingChannel<unknown, CacheLoadTrace>('hotpath:cache.load'),
  /** Each call to Redis: context {@link CacheL2Trace}. */
  l2: diagnostics_channel.tracingChannel<unknown, CacheL2Trace>('hotpath:cache.l2'),
})
