/**
 * The public shapes of the client: results, events, stats, and what runs statements.
 */

import type { PoolStats } from './driver.js'
import type { QueryOptions } from './options.js'
import type { SlowQuery } from './slow.js'
import type { SqlStatement } from './sql.js'

/** A statement's result. Cached results are shared and frozen: copy before changing them. */
export interface QueryResult<T = Record<string, unknown>> {
  readonly rows: readonly T[]
  /** Rows returned, or rows affected by a write. */
  readonly rowCount: number
  /** True when the result came from the cache. */
  readonly cached: boolean
}

/** Events of a db client. */
export interface DbEvents {
  /** A statement reached the database (not emitted for cache hits). */
  query: { text: string; fingerprint: string; durationMs: number; rows: number; ok: boolean }
  /** A slow statement was recorded, with its plan when captured. */
  slow: SlowQuery
  /** Table versions were bumped after a write committed ('*': everything, after DDL). */
  invalidate: { tables: readonly string[] }
  /** A read asked for the cache but ran uncached (the parser could not read it). */
  uncacheable: { text: string; reason: string }
  /**
   * The shared table versions (in Redis) became unavailable, or available again. While they are
   * unavailable, cached reads are answered from the database without the cache (`stats().bypassed`).
   */
  versions: { available: boolean; reason: string }
}

/** A snapshot of a db client's counters. */
export interface DbStats {
  name: string
  backend: 'pg' | 'pglite'
  queries: number
  errors: number
  cachedReads: number
  cacheHits: number
  cacheMisses: number
  uncacheable: number
  invalidations: number
  /** Cached reads answered from the database because the table versions were unavailable (Redis down). */
  bypassed: number
  slowQueries: number
  pool: PoolStats
}

/** What runs statements: the client itself, or a transaction. */
export interface Queryable {
  /** Runs a statement built with the `sql` tag. */
  query<T = Record<string, unknown>>(statement: SqlStatement, options?: QueryOptions): Promise<QueryResult<T>>
  /** Runs `text` with `$1..$n` bound to `params`. */
  query<T = Record<string, unknown>>(
    text: string,
    params?: readonly unknown[],
    options?: QueryOptions,
  ): Promise<QueryResult<T>>
}

/** The handle a transaction callback receives. */
export type Transaction = Queryable
