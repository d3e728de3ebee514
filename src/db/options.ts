/**
 * Options of `createDb()` and of each query: defaults and validation.
 */
import type { Redis } from 'ioredis'
import type { Cache } from '../cache/index.js'
import { assertKnownKeys } from '../options.js'
import { type Duration, toMs, toTimerMs } from '../time.js'
import type { MonitorLike } from '../types.js'
import type { PgPoolLike } from './pg-pool.js'
import type { PGliteLike } from './pglite-driver.js'

/** Slow-query log settings. */
export interface SlowQueryOptions {
  /**
   * Statements that take longer are logged with their plan (the seeds' SLOW_QUERY_THRESHOLD).
   * @default '1s'
   */
  threshold?: Duration
  /**
   * Capture the plan of a slow statement with EXPLAIN (FORMAT JSON), run after it on its own.
   * @default true
   */
  explain?: boolean
  /**
   * Share of slow statements whose plan is captured with EXPLAIN ANALYZE (which runs the
   * statement again, so only reads are ever analyzed). 0 never, 1 always.
   * @default 0
   */
  analyzeSampleRate?: number
  /**
   * Slow statements kept in memory for `slowQueries()` (oldest dropped first).
   * @default 100
   */
  keep?: number
}

/** Options of `createDb()`. */
export interface DbOptions {
  /**
   * The database: a PostgreSQL URL (`postgres://...`, opens a pg Pool), an existing pg `Pool`, an
   * existing PGlite instance, or `{ dataDir }` for an on-disk PGlite.
   * @default an in-memory PGlite (no server needed)
   */
  connection?: string | PgPoolLike | PGliteLike | { dataDir: string } | undefined
  /**
   * Name used in metrics, errors and the Redis version hash (`<prefix><name>:tv`). Clients of
   * different databases that share a cache and its Redis need different names (or prefixes):
   * the ones of one database share its versions on purpose, and with them its cached reads.
   * @default 'db'
   */
  name?: string
  /**
   * Most connections of a pool opened from a URL.
   * @default 10
   */
  max?: number
  /**
   * How long a statement waits for a connection before E_ACQUIRE_TIMEOUT: a pool opened from a
   * URL, or PGlite's one connection (a `db.query` inside `db.transaction()` waits for the
   * transaction, which waits for it: it fails after this long; use the transaction's handle).
   * @default '5s'
   */
  acquireTimeout?: Duration
  /** The hotpath cache that cached reads (`{ cache: ... }` per query) are kept in. */
  cache?: Cache | undefined
  /**
   * TTL of a cached read that names neither `ttl` nor a cache `type`.
   * @default '60s'
   */
  cacheTtl?: Duration
  /**
   * Redis (URL or ioredis client) holding the table versions every instance shares. Required when
   * the cache has a Redis tier (other instances read the same entries); without it, versions are
   * per process, which is right for one instance only.
   */
  redis?: string | Redis | undefined
  /**
   * 'eventual': a cached read checks table versions kept in memory, updated by the Redis channel
   * (other instances see a write once its message arrives, usually well under a millisecond).
   * 'strict': every cached read asks Redis for the versions (read-after-write across instances,
   * at one Redis round trip per read).
   * @default 'eventual'
   */
  consistency?: 'eventual' | 'strict'
  /**
   * Longest wait for Redis when reading or bumping table versions. Past it, the versions count
   * as unavailable: cached reads go to the database without the cache (never stale, counted in
   * `stats().bypassed`, reported by the `versions` event) until Redis answers again.
   * @default '250ms'
   */
  versionTimeout?: Duration
  /**
   * Prefix of cache keys and of the Redis version hash and channel.
   * @default 'db:'
   */
  prefix?: string
  /**
   * Slow-query log, or false to disable it.
   * @default { threshold: '1s', explain: true, analyzeSampleRate: 0, keep: 100 }
   */
  slowQuery?: SlowQueryOptions | false
  /**
   * Keep per-fingerprint statement statistics (calls, rows, total/mean/max/p99).
   * @default true
   */
  statements?: boolean
  /**
   * Most distinct statement texts whose analysis (tables read and written) is remembered.
   * @default 5000
   */
  maxStatements?: number
  /**
   * Most distinct statement texts the pg driver runs as named prepared statements (parsed and
   * planned once per connection, then only bound and executed: less server time per statement).
   * Only single SELECT / INSERT / UPDATE / DELETE / MERGE statements outside transactions are
   * named; later texts run unnamed. 0 turns it off: do so behind PgBouncer in transaction mode
   * older than 1.21, which cannot carry named statements across server connections. PGlite
   * ignores it.
   * @default 1000
   */
  preparedStatements?: number
  /** A monitor (hotpath/metrics) to report pool, statement and slow-query figures into. */
  monitor?: MonitorLike | undefined
}

/** Per-call cache settings of a read. */
export interface QueryCacheOptions {
  /** How long the result is fresh. @default the cache type's ttl, else `cacheTtl` */
  ttl?: Duration
  /** Extra tags (for `cache.deleteByTag`). Table invalidation needs none. */
  tags?: readonly string[]
  /** A type policy of the cache (`createCache({ types: { user: { ttl: '60s' } } })`): TTLs per query class. */
  type?: string
}

/** Options of one query. */
export interface QueryOptions {
  /** Cache this read: true for the defaults, or settings. Refused for statements that write. @default false */
  cache?: boolean | QueryCacheOptions
  /** Cancels the statement (pg: a cancel request; PGlite: only while it waits in the queue). */
  signal?: AbortSignal
}

/** Options after defaults and validation. */
export interface ResolvedDbOptions {
  readonly connection: DbOptions['connection']
  readonly name: string
  readonly max: number
  readonly acquireTimeoutMs: number
  readonly cache: Cache | undefined
  readonly cacheTtlMs: number
  readonly redis: string | Redis | undefined
  readonly strict: boolean
  readonly versionTimeoutMs: number
  readonly prefix: string
  readonly slowQuery:
    | {
        readonly thresholdMs: number
        readonly explain: boolean
        readonly analyzeSampleRate: number
        readonly keep: number
      }
    | undefined
  readonly statements: boolean
  readonly maxStatements: number
  readonly preparedStatements: number
  readonly monitor: MonitorLike | undefined
}

const KEYS = [
  'connection',
  'name',
  'max',
  'acquireTimeout',
  'cache',
  'cacheTtl',
  'redis',
  'consistency',
  'versionTimeout',
  'prefix',
  'slowQuery',
  'statements',
  'maxStatements',
  'preparedStatements',
  'monitor',
]
const SLOW_KEYS = ['threshold', 'explain', 'analyzeSampleRate', 'keep']
/** Keys of per-call options. */
export const QUERY_KEYS: readonly string[] = ['cache', 'signal']
/** Keys of per-call cache options. */
export const QUERY_CACHE_KEYS: readonly string[] = ['ttl', 'tags', 'type']

function positiveInt(value: unknown, option: string, def: number): number {
  if (value === undefined) return def
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    throw new RangeError(`${option} must be a positive integer; received ${String(value)}`)
  }
  return value
}

function nonNegativeInt(value: unknown, option: string, def: number): number {
  if (value === undefined) return def
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    throw new RangeError(`${option} must be an integer >= 0; received ${String(value)}`)
  }
  return value
}

/** A cache TTL: a duration above 0 (the cache refuses 0, which would only surface at the first cached read). */
export function ttlMs(value: unknown, option: string): number {
  const ms = toMs(value, option)
  if (ms === 0) throw new RangeError(`${option} must be greater than 0; received ${String(value)}`)
  return ms
}

/**
 * The longest wait for Redis on versions: above 0 (regression: 0 was accepted, and every version
 * read then timed out at once, so cached reads always bypassed the cache).
 */
function versionTimeoutMs(value: unknown): number {
  const ms = toTimerMs(value, 'db option versionTimeout')
  if (ms === 0)
    throw new RangeError(`db option versionTimeout must be greater than 0; received ${String(value)}`)
  return ms
}

function nonEmpty(value: unknown, option: string, def: string): string {
  if (value === undefined) return def
  if (typeof value !== 'string' || value.length === 0) {
    throw new TypeError(`${option} must be a non-empty string; received ${JSON.stringify(value)}`)
  }
  return value
}

function resolveSlow(value: unknown): ResolvedDbOptions['slowQuery'] {
  if (value === false) return undefined
  if (value !== undefined && (value === null || typeof value !== 'object')) {
    throw new TypeError(`db option slowQuery must be an object or false; received ${String(value)}`)
  }
  const v = (value ?? {}) as SlowQueryOptions
  assertKnownKeys(v, SLOW_KEYS, 'db option slowQuery')
  const rate = v.analyzeSampleRate ?? 0
  if (typeof rate !== 'number' || !(rate >= 0 && rate <= 1)) {
    throw new RangeError(`slowQuery.analyzeSampleRate must be a number from 0 to 1; received ${String(rate)}`)
  }
  if (v.explain !== undefined && typeof v.explain !== 'boolean') {
    throw new TypeError(`slowQuery.explain must be a boolean; received ${typeof v.explain}`)
  }
  return Object.freeze({
    thresholdMs: v.threshold === undefined ? 1000 : toMs(v.threshold, 'slowQuery.threshold'),
    explain: v.explain ?? true,
    analyzeSampleRate: rate,
    keep: positiveInt(v.keep, 'slowQuery.keep', 100),
  })
}

function resolveConnection(value: unknown): DbOptions['connection'] {
  if (value === undefined || typeof value === 'string') {
    if (typeof value === 'string' && !/^postgres(ql)?:\/\//.test(value)) {
      throw new TypeError(
        `db option connection must be a postgres:// URL, a pg Pool, a PGlite or { dataDir }; received the string ${JSON.stringify(value.slice(0, 40))}`,
      )
    }
    return value
  }
  if (value === null || typeof value !== 'object') {
    throw new TypeError(
      `db option connection must be a URL, a pg Pool, a PGlite or { dataDir }; received ${String(value)}`,
    )
  }
  const o = value as Record<string, unknown>
  const isPool = typeof o.connect === 'function' && 'totalCount' in o
  const isPGlite = typeof o.query === 'function' && typeof o.exec === 'function'
  const isDir = typeof o.dataDir === 'string'
  if (!isPool && !isPGlite && !isDir) {
    throw new TypeError(
      'db option connection must be a URL, a pg Pool, a PGlite or { dataDir }; received another object',
    )
  }
  if (isDir) assertKnownKeys(o, ['dataDir'], 'db option connection')
  return value as DbOptions['connection']
}

/** Validates `createDb()` options and applies defaults. */
export function resolveDbOptions(options: DbOptions = {}): ResolvedDbOptions {
  if (options === null || typeof options !== 'object') {
    throw new TypeError(`createDb options must be an object; received ${String(options)}`)
  }
  assertKnownKeys(options, KEYS, 'createDb options')
  const cache = options.cache
  if (cache !== undefined && (typeof cache !== 'object' || typeof (cache as Cache).getOrSet !== 'function')) {
    throw new TypeError('db option cache must be a hotpath cache (createCache())')
  }
  const redis = options.redis
  // an ioredis client (or Cluster) has these; anything else failed deep in createDb
  // (regression: 'c.defineCommand is not a function')
  if (
    redis !== undefined &&
    typeof redis !== 'string' &&
    (typeof redis !== 'object' ||
      redis === null ||
      typeof (redis as { defineCommand?: unknown }).defineCommand !== 'function' ||
      typeof (redis as { duplicate?: unknown }).duplicate !== 'function')
  ) {
    throw new TypeError(`db option redis must be a URL or an ioredis client; received ${String(redis)}`)
  }
  if (cache?.hasL2 === true && redis === undefined) {
    throw new TypeError(
      'db option redis is required when the cache has a Redis tier: other instances read the same entries, so they must share the table versions too (pass the same Redis URL)',
    )
  }
  const consistency = options.consistency ?? 'eventual'
  if (consistency !== 'eventual' && consistency !== 'strict') {
    throw new RangeError(
      `db option consistency must be 'eventual' or 'strict'; received ${String(consistency)}`,
    )
  }
  const monitor = options.monitor as unknown
  if (
    monitor !== undefined &&
    (monitor === null || typeof monitor !== 'object' || typeof (monitor as MonitorLike).attach !== 'function')
  ) {
    throw new TypeError('db option monitor must be a hotpath monitor (createMonitor())')
  }
  if (options.statements !== undefined && typeof options.statements !== 'boolean') {
    throw new TypeError(`db option statements must be a boolean; received ${typeof options.statements}`)
  }
  return Object.freeze({
    connection: resolveConnection(options.connection),
    name: nonEmpty(options.name, 'db option name', 'db'),
    max: positiveInt(options.max, 'db option max', 10),
    acquireTimeoutMs:
      options.acquireTimeout === undefined
        ? 5000
        : toTimerMs(options.acquireTimeout, 'db option acquireTimeout'),
    cache,
    cacheTtlMs: options.cacheTtl === undefined ? 60_000 : ttlMs(options.cacheTtl, 'db option cacheTtl'),
    redis,
    strict: consistency === 'strict',
    versionTimeoutMs: options.versionTimeout === undefined ? 250 : versionTimeoutMs(options.versionTimeout),
    prefix: nonEmpty(options.prefix, 'db option prefix', 'db:'),
    slowQuery: resolveSlow(options.slowQuery),
    statements: options.statements ?? true,
    maxStatements: positiveInt(options.maxStatements, 'db option maxStatements', 5000),
    preparedStatements: nonNegativeInt(options.preparedStatements, 'db option preparedStatements', 1000),
    monitor: options.monitor,
  })
}
