/**
 * Public types of the cache: loader context, events, stats, warm-up input.
 */
import type { BreakerState } from './l2-guard.js'
import type { EvictionReason } from './memory/store.js'

/**
 * What a loader receives. `Stale` is the type of the stale value: the loader's value type when the
 * call names it (`getOrSet<User>(...)`), `unknown` when the type is inferred from the loader.
 */
export interface LoaderContext<Stale = unknown> {
  /** The key being loaded (without namespace). */
  readonly key: string
  /** Aborted when the hard timeout fires or the cache closes. */
  readonly signal: AbortSignal
  /** The stale value, when one is still within grace. */
  readonly stale: Stale | undefined
}

/**
 * Loads a value on a miss. Returning `undefined` means "nothing to cache": the caller gets undefined.
 * The context's type is a separate parameter so that `T` is inferred from what the loader returns
 * (a context typed by `T` would fix `T` to `unknown` before the loader's return is seen).
 */
export type Loader<T, Stale = T> = (ctx: LoaderContext<Stale>) => T | Promise<T>

/** Loads several missing keys at once; returns values aligned with `keys`, or a Map / record by key. */
export type BatchLoader<T> = (
  keys: string[],
  ctx: { signal: AbortSignal },
) => Promise<ReadonlyArray<T | undefined> | ReadonlyMap<string, T> | Readonly<Record<string, T>>>

/** Why a stale value was served. */
export type StaleReason = 'loader-error' | 'soft-timeout' | 'swr' | 'hard-timeout'

/** Events of a cache: `cache.on(name, listener)` returns a disposer. */
export interface CacheEvents {
  /** A fresh (or, with stale: true, a stale) value was served from a tier. */
  hit: { key: string; tier: 'l1' | 'l2'; stale: boolean }
  /** A tier did not have a fresh value. */
  miss: { key: string; tier: 'l1' | 'l2' }
  /** The loader ran (early: an XFetch or stale-while-revalidate background refresh). */
  load: { key: string; durationMs: number; ok: boolean; early: boolean }
  /** A stale value was served instead of waiting for or failing with the loader. */
  stale: { key: string; reason: StaleReason }
  /** An L2 operation failed or timed out; callers did not see it. */
  'l2-error': { op: string; error: unknown }
  /** The L2 breaker changed state. */
  breaker: { state: BreakerState }
  /** L1 dropped an entry for capacity, bytes, expiry or admission. */
  evict: { key: string; reason: EvictionReason }
  /** L1 was flushed because invalidations may have been missed (the bus reconnected). */
  flush: { reason: 'bus-gap' }
}

/** A snapshot of a cache's counters (`cache.stats()`). */
export interface CacheStats {
  name: string
  l1: {
    enabled: boolean
    hits: number
    misses: number
    entries: number
    bytes: number
    maxEntries: number
    maxBytes: number
    evictions: number
    hitRatio: number
  }
  l2: {
    enabled: boolean
    hits: number
    misses: number
    errors: number
    timeouts: number
    /**
     * Operations Redis answered with an error reply (OOM, WRONGTYPE...): reported as `l2-error`
     * events and dropped; they never count toward the breaker and are never replayed.
     */
    refused: number
    breaker: BreakerState | 'none'
    busConnected: boolean
    busGaps: number
    /** Messages on the invalidation channel that were not valid invalidations (ignored, reported as `l2-error` with op 'invalidation'). */
    busMalformed: number
    /** L2 writes made while L2 was unavailable, waiting to be replayed when it is back. */
    pendingWrites: number
    /** Such writes dropped because more than 10,000 were waiting. */
    droppedWrites: number
  }
  loader: { calls: number; errors: number; timeouts: number; earlyRefreshes: number }
  /** Stale values served (grace, soft timeout, stale-while-revalidate). */
  staleServes: number
  /** Cross-instance lock: loads that took the lock, and waits that got the winner's value. */
  lock: { acquired: number; waitedForValue: number }
  /** Milliseconds of loader time saved by hits (each hit counts its value's last load duration). */
  savedMs: number
}

/** One entry to warm the cache with. */
export interface WarmEntry<T = unknown> {
  key: string
  value: T
  ttl?: number | string
  tags?: readonly string[]
}

/**
 * An ioredis client (`Redis`), described by the members hotpath's API relies on. The published
 * declarations use it in place of ioredis's own types, so that a memory-only user compiling with
 * `skipLibCheck: false` does not need ioredis installed; any ioredis `Redis` is one.
 */
export interface RedisClientLike {
  readonly isCluster: boolean
  readonly status: string
  getBuffer(key: string): Promise<unknown>
  duplicate(): unknown
  quit(): Promise<unknown>
  disconnect(reconnect?: boolean): void
}

/** An ioredis `Cluster`, described like {@link RedisClientLike}; any ioredis `Cluster` is one. */
export interface RedisClusterLike extends RedisClientLike {
  nodes(role?: 'all' | 'master' | 'slave'): unknown[]
}
