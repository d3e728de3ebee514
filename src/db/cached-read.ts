/**
 * The cached-read path: the key (versions of the tables read, statement, parameters), an L1 hit
 * answered synchronously, a miss loaded once through the cache's single-flight. When the table
 * versions cannot be known (their Redis is down or frozen), the read goes to the database and
 * neither serves from nor fills the cache: an answer is always better than an error, and a
 * result cached under versions nobody can check could be stale.
 */
import type { Cache, CallOptions } from '../cache/index.js'
import { isHotpathError } from '../errors.js'
import type { Events } from '../events.js'
import type { Analysis } from './analyze.js'
import type { RawResult } from './driver.js'
import { type QueryCacheOptions, type ResolvedDbOptions, ttlMs } from './options.js'
import { keyParams } from './params.js'
import type { StatementTable } from './statements.js'
import type { DbEvents, QueryResult } from './types.js'
import type { VersionSource } from './versions.js'

/** A statement's analysis, remembered per text. */
export interface Entry {
  readonly text: string
  readonly analysis: Analysis
  readonly keyText: string
  /** The name it runs under as a prepared statement on the pg driver (undefined: unnamed). */
  readonly prepared: string | undefined
  /** '*' then the base tables read, resolved; undefined until resolved. */
  reads: readonly string[] | undefined
  /**
   * The tables read, then `keyText`: the cache key's middle part, set with `reads` (one string
   * made once, not two joined per read). A text names different tables under different
   * search_paths, and versions alone (all equal in a fresh Redis hash) do not tell them apart.
   */
  readsKey: string | undefined
  writes: readonly string[] | undefined
}

/** The tables a statement reads ('*' first) and writes; `complete` when every name resolved. */
export interface Resolved {
  readonly reads: readonly string[]
  readonly writes: readonly string[]
  readonly complete: boolean
}

/** The client's counters. */
export interface Counters {
  queries: number
  errors: number
  cachedReads: number
  /** Cached reads answered from the cache (L1, L2, or another caller's load of the same key). */
  cacheHits: number
  cacheMisses: number
  uncacheable: number
  invalidations: number
  /** Cached reads answered from the database because the table versions were unavailable. */
  bypassed: number
}

/** Runs one statement through the pool with statistics (the client's exec); `map` shapes its result. */
export type Exec = <R = RawResult>(
  e: Entry,
  params: readonly unknown[],
  signal: AbortSignal | undefined,
  map?: (r: RawResult) => R,
) => Promise<R>

/** What the cached-read path needs from the client. */
export interface CachedReadDeps {
  readonly o: ResolvedDbOptions
  readonly cache: Cache
  readonly versions: VersionSource
  readonly counters: Counters
  readonly events: Events<DbEvents>
  readonly table: StatementTable | undefined
  readonly exec: Exec
  /** A miss's L1 store may follow its answer (Cache.getOrSetAfterSyncMiss). */
  readonly storeAfterAnswer: boolean
  /**
   * Told the '*' version a cached read saw; when DDL ran since the statement's tables were
   * resolved, answers the read again from scratch (undefined: carry on).
   */
  readonly star: <T>(
    v: number,
    e: Entry,
    params: readonly unknown[],
    co: QueryCacheOptions,
    signal: AbortSignal | undefined,
  ) => Promise<QueryResult<T>> | undefined
}

/** A statement's result as an uncached read returns it. */
export function uncached<T>(r: RawResult): QueryResult<T> {
  return { rows: r.rows as T[], rowCount: r.rowCount, cached: false }
}

function unwrapLoaderError(err: unknown): never {
  // the cache wraps loader failures; callers want the SQL error itself
  throw isHotpathError(err, 'E_LOADER') ? (err as Error).cause : err
}

/** The cached reads of one client. */
export class CachedReads {
  /** Call options resolved once per `cache` settings object (callers usually pass a constant). */
  private readonly calls = new WeakMap<QueryCacheOptions, CallOptions>()

  constructor(private readonly d: CachedReadDeps) {}

  read<T>(
    e: Entry,
    params: readonly unknown[],
    co: QueryCacheOptions,
    signal: AbortSignal | undefined,
  ): Promise<QueryResult<T>> {
    this.d.counters.cachedReads++
    const vs = this.d.versions.read(e.reads as readonly string[])
    if (vs === undefined) return this.bypass<T>(e, params, signal)
    if (!Array.isArray(vs)) {
      return (vs as Promise<readonly number[] | undefined>).then((v) =>
        v === undefined ? this.bypass<T>(e, params, signal) : this.withVersions<T>(e, v, params, co, signal),
      )
    }
    return this.withVersions<T>(e, vs as readonly number[], params, co, signal)
  }

  private bypass<T>(
    e: Entry,
    params: readonly unknown[],
    signal: AbortSignal | undefined,
  ): Promise<QueryResult<T>> {
    this.d.counters.bypassed++
    return this.d.exec(e, params, signal, uncached<T>)
  }

  private callOptions(co: QueryCacheOptions, signal: AbortSignal | undefined): CallOptions {
    let call = this.calls.get(co)
    if (call === undefined) {
      const c: CallOptions = {}
      if (co.type !== undefined) c.type = co.type
      if (co.ttl !== undefined) c.ttl = ttlMs(co.ttl, 'query option cache.ttl')
      else if (co.type === undefined) c.ttl = this.d.o.cacheTtlMs
      if (co.tags !== undefined) c.tags = co.tags
      call = Object.freeze(c)
      this.calls.set(co, call)
    }
    return signal === undefined ? call : { ...call, signal }
  }

  private withVersions<T>(
    e: Entry,
    vs: readonly number[],
    params: readonly unknown[],
    co: QueryCacheOptions,
    signal: AbortSignal | undefined,
  ): Promise<QueryResult<T>> {
    const again = this.d.star<T>(vs[0] as number, e, params, co, signal)
    if (again !== undefined) {
      this.d.counters.cachedReads--
      return again
    }
    let v = ''
    for (let i = 0; i < vs.length; i++) v += i === 0 ? `${vs[i]}` : `.${vs[i]}`
    // the tables too, not only their versions (regression: two clients on one database with
    // different search_paths, sharing a cache and Redis versions, answered `SELECT v FROM t` of
    // one schema with the rows of the other)
    const key = `${this.d.o.prefix}${v}|${e.readsKey}|${params.length === 0 ? '' : keyParams(params)}`
    const cache = this.d.cache
    const hit = cache.getSync<QueryResult<T>>(key)
    if (hit !== undefined) {
      this.d.counters.cacheHits++
      this.d.table?.hit(e.analysis.fingerprint || e.text, e.text)
      return Promise.resolve(hit)
    }
    // `fresh` is the result this call loaded itself (undefined: another caller's load, or L2)
    let fresh: QueryResult<T> | undefined
    return cache
      .getOrSetAfterSyncMiss<QueryResult<T>>(
        key,
        (ctx) => {
          this.d.counters.cacheMisses++
          // the load's signal (aborted by the cache's hard timeout or close) reaches the statement
          // only when the caller passed a signal: making one costs more than the rest of a miss
          return this.d.exec(e, params, signal === undefined ? undefined : ctx.signal, (r) => {
            const rows = r.rows
            for (let i = 0; i < rows.length; i++) Object.freeze(rows[i])
            Object.freeze(rows)
            fresh = { rows: rows as readonly T[], rowCount: r.rowCount, cached: false }
            return Object.freeze({ rows: rows as readonly T[], rowCount: r.rowCount, cached: true })
          })
        },
        this.callOptions(co, signal),
        this.d.storeAfterAnswer,
      )
      .then((value) => {
        if (fresh !== undefined) return fresh
        this.d.counters.cacheHits++
        this.d.table?.hit(e.analysis.fingerprint || e.text, e.text)
        return value
      }, unwrapLoaderError)
  }
}
