/**
 * hotpath/cache: a multi-tier cache. L1 is synchronous in-process memory (W-TinyLFU admission,
 * bounded by entries and bytes); L2 is Redis (msgpack, compression, timeouts, a breaker);
 * loaders run once per key across callers and, with `lock`, across instances.
 */
export { Cache, createCache, type WarmFromLoader } from './cache.js'
export type { BreakerState } from './l2-guard.js'
export type { EvictionReason } from './memory/store.js'
export type {
  CacheOptions,
  CallOptions,
  FreshnessOptions,
  LockOptions,
  MemoryOptions,
  RedisOptions,
  StandardSchema,
  TypePolicy,
} from './option-types.js'
export {
  type CacheAnswer,
  type CacheL2Trace,
  type CacheLoadTrace,
  type CacheOperationTrace,
  type L2Operation,
  tracingChannels,
} from './tracing.js'
export type {
  BatchLoader,
  CacheEvents,
  CacheStats,
  Loader,
  LoaderContext,
  StaleReason,
  WarmEntry,
} from './types.js'
