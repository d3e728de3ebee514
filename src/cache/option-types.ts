/**
 * The option types of `createCache()` and of each call: what a user may pass (with `@default`s)
 * and what the resolver in options.ts hands the engine.
 */
import type { Cluster, Redis as RedisClient } from 'ioredis'
import type { Clock, Duration } from '../time.js'
import type { MonitorLike } from '../types.js'

/** A Standard Schema (zod, valibot, arktype...): only the part hotpath uses. */
export interface StandardSchema<T = unknown> {
  readonly '~standard': {
    readonly version: 1
    readonly vendor: string
    readonly validate: (
      value: unknown,
    ) =>
      | { readonly value: T; readonly issues?: undefined }
      | { readonly issues: ReadonlyArray<unknown> }
      | Promise<
          { readonly value: T; readonly issues?: undefined } | { readonly issues: ReadonlyArray<unknown> }
        >
  }
}

/** L1 (in-process memory) bounds. Both bounds are required to be finite: there is no unbounded L1. */
export interface MemoryOptions {
  /**
   * Most entries kept. Memory for the slots is allocated up front.
   * @default 10000
   */
  maxEntries?: number
  /**
   * Most bytes kept (estimated size of keys and values plus a per-entry overhead).
   * @default 67108864 (64 MiB)
   */
  maxBytes?: number
  /**
   * Largest single entry kept in L1; bigger values skip L1 (they still go to L2).
   * @default maxBytes
   */
  maxEntryBytes?: number
  /**
   * Estimates a value's size in bytes. The default walks strings, buffers, arrays and plain
   * objects up to a bounded depth.
   */
  sizeOf?: (value: unknown) => number
}

/** L2 (Redis) settings. */
export interface RedisOptions {
  /** A Redis URL, or an existing ioredis client (Redis or Cluster). The cache never quits a client you pass. */
  connection: string | RedisClient | Cluster
  /**
   * Time after which an L2 operation counts as failed; reads then fall through to L1 and the loader.
   * @default '200ms'
   */
  timeout?: Duration
  /**
   * Consecutive L2 failures that open the L2 breaker (L2 is skipped while open).
   * @default 1
   */
  breakerThreshold?: number
  /**
   * How often an open breaker probes Redis (one PING) to close again.
   * @default '500ms'
   */
  breakerProbeInterval?: Duration
  /**
   * Values whose encoded size exceeds this many bytes are compressed (deflate) in L2. 0 disables.
   * @default 4096
   */
  compressAbove?: number
  /**
   * Publish and subscribe to L1 invalidations so other instances drop their L1 copies.
   * @default true
   */
  bus?: boolean
}

/** The cross-instance loader lock (opt-in). */
export interface LockOptions {
  /**
   * How long the lock is held at most (it is released as soon as the loader finishes).
   * @default '10s'
   */
  ttl?: Duration
  /**
   * How long an instance waits for the lock holder's value before running the loader itself.
   * @default '5s'
   */
  wait?: Duration
}

/** Freshness settings shared by the cache, type policies and calls. */
export interface FreshnessOptions {
  /**
   * How long a value is fresh.
   * @default '5m' on the cache
   */
  ttl?: Duration
  /**
   * How long after expiry a value may still be served stale when the loader fails or is slow.
   * 0 disables grace.
   * @default 0
   */
  grace?: Duration
  /**
   * Within this window after expiry (and within grace), a stale value is returned at once and
   * refreshed in the background. 0 disables.
   * @default 0
   */
  staleWhileRevalidate?: Duration
  /**
   * Loader timeouts. `soft`: when a stale value exists, return it after this long and let the
   * loader finish in the background. `hard`: reject with E_LOADER_TIMEOUT after this long.
   * @default { soft: 0 (off), hard: 0 (off) }
   */
  timeouts?: { soft?: Duration; hard?: Duration }
  /**
   * XFetch probabilistic early refresh: beta > 0 refreshes hot keys shortly before they expire,
   * in the background (Vattani et al., VLDB 2015). 0 disables.
   * @default 1
   */
  earlyRefreshBeta?: number
  /** Tags attached to stored values, for `deleteByTag` / `expireByTag`. */
  tags?: readonly string[]
}

/** Per-type policy: defaults for values of one kind (e.g. 'user', 'catalog'). */
export interface TypePolicy extends FreshnessOptions {
  /** Schema that values of this type must satisfy when read from the cache. */
  schema?: StandardSchema
}

/** Options of `createCache()`. */
export interface CacheOptions extends FreshnessOptions {
  /**
   * Name used in metrics and errors.
   * @default 'cache'
   */
  name?: string
  /**
   * Prefix of every Redis key and of the invalidation channel; instances that share data must share it.
   * @default 'hp:'
   */
  prefix?: string
  /** L1 memory tier settings, or false to run without L1. @default { maxEntries: 10000, maxBytes: 64 MiB } */
  memory?: MemoryOptions | false
  /** L2 Redis tier: a URL, a client, or detailed settings. Omitted or undefined (an unset env variable): memory only. */
  redis?: string | RedisClient | Cluster | RedisOptions | undefined
  /** Opt-in cross-instance loader lock (needs `redis`). true uses the defaults. @default false */
  lock?: boolean | LockOptions
  /** Named per-type policies, picked per call with `{ type: 'name' }`. */
  types?: Record<string, TypePolicy>
  /**
   * Longest key accepted.
   * @default 1024
   */
  maxKeyLength?: number
  /** A monitor (hotpath/metrics) to report into. */
  monitor?: MonitorLike
  /** Clock for TTLs and timers (tests pass a FakeClock). @default systemClock */
  clock?: Clock
}

/** Per-call options of `get`, `set`, `getOrSet`... (override the type policy and the cache options). */
export interface CallOptions extends FreshnessOptions {
  /** A named type policy from `CacheOptions.types`. */
  type?: string
  /** Values read from the cache must satisfy this schema; a value that fails is a miss. */
  schema?: StandardSchema
  /** Do not read or write L2 for this call. @default false */
  skipL2?: boolean
  /** Aborts waiting for the loader (the loader receives the signal too). */
  signal?: AbortSignal
}

/** Freshness settings after defaults, in milliseconds. */
export interface ResolvedPolicy {
  readonly ttl: number
  readonly grace: number
  readonly swr: number
  readonly softTimeout: number
  readonly hardTimeout: number
  readonly beta: number
  readonly tags: readonly string[] | undefined
  readonly schema: StandardSchema | undefined
  readonly skipL2: boolean
}

/** Options after defaults and validation. */
export interface ResolvedCacheOptions {
  readonly name: string
  readonly prefix: string
  readonly memory:
    | (Readonly<Required<Omit<MemoryOptions, 'sizeOf'>>> & { sizeOf: ((v: unknown) => number) | undefined })
    | false
  readonly redis:
    | {
        readonly connection: string | RedisClient | Cluster
        readonly timeout: number
        readonly breakerThreshold: number
        readonly breakerProbeInterval: number
        readonly compressAbove: number
        readonly bus: boolean
      }
    | undefined
  readonly lock: { readonly ttl: number; readonly wait: number } | undefined
  readonly policy: ResolvedPolicy
  readonly types: ReadonlyMap<string, ResolvedPolicy>
  readonly maxKeyLength: number
  readonly monitor: MonitorLike | undefined
  readonly clock: Clock
}
