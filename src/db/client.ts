/**
 * The client: one API over a pg Pool and PGlite. Statements are parameterized only (`sql` tag or
 * text + params). Every statement text is analysed once and its tables resolved (resolutions.ts,
 * over analyze.ts, the PostgreSQL parser, and catalog.ts, views to base tables); reads may be
 * cached (cached-read.ts), writes bump the versions of the tables they touched after they commit
 * (versions.ts explains why that makes stale refills impossible).
 */
import { ClosedError, isHotpathError } from '../errors.js'
import { type Disposer, Events } from '../events.js'
import type { HealthCheck } from '../metrics/index.js'
import type { Instrumentable } from '../types.js'
import type { Analysis } from './analyze.js'
import { cacheOptions, checkTransactionArgs, normalize } from './args.js'
import { type BatchItem, type BatchQueryOptions, batchQuery } from './batch-query.js'
import { CachedReads, type Counters, type Entry, type Exec, uncached } from './cached-read.js'
import type { CatalogQuery } from './catalog.js'
import type { Driver, PoolStats, RawResult, Runner } from './driver.js'
import { DbQueryError, UncacheableError } from './errors.js'
import { checkWatched, type ListeningClient, listen, poolHealthCheck, triggerSql } from './external.js'
import type { QueryCacheOptions, QueryOptions, ResolvedDbOptions } from './options.js'
import { PreparedNames } from './prepared.js'
import { Resolutions } from './resolutions.js'
import { SlowLog, type SlowQuery } from './slow.js'
import type { SqlStatement } from './sql.js'
import { type StatementStats, StatementTable } from './statements.js'
import { type TxDeps, txHandle } from './transaction.js'
import type { DbEvents, DbStats, Queryable, QueryResult, Transaction } from './types.js'
import type { VersionSource } from './versions.js'

/** A database client. Create it with `createDb()`. */
export class Db implements Instrumentable, Queryable {
  readonly kind = 'db'
  private readonly events = new Events<DbEvents>()
  private readonly res: Resolutions
  private readonly table: StatementTable | undefined
  private readonly slow: SlowLog | undefined
  private readonly c: Counters = {
    queries: 0,
    errors: 0,
    cachedReads: 0,
    cacheHits: 0,
    cacheMisses: 0,
    uncacheable: 0,
    invalidations: 0,
    bypassed: 0,
  }
  private readonly cached: CachedReads | undefined
  private readonly txDeps: TxDeps = {
    entry: (text) => this.res.entry(text),
    resolve: (e, run) => this.res.resolve(e, run),
    exec: (e, params, signal, runner) => this.exec(e, params, signal, runner),
  }
  private readonly execDefault: Exec
  private closed = false
  private stopListening: (() => Promise<void>) | undefined
  private detach: Disposer | undefined
  private readonly catalogRun: CatalogQuery

  constructor(
    private readonly o: ResolvedDbOptions,
    private readonly driver: Driver,
    private readonly versions: VersionSource,
  ) {
    this.table = o.statements ? new StatementTable() : undefined
    this.res = new Resolutions(o.maxStatements, versions, new PreparedNames(o.preparedStatements))
    this.slow =
      o.slowQuery === undefined ? undefined : new SlowLog(o.slowQuery, (q) => this.events.emit('slow', q))
    this.catalogRun = (text, params) =>
      this.closed ? Promise.reject(new ClosedError(`db "${o.name}"`)) : driver.run(text, params, undefined)
    this.execDefault = (e, params, signal, map) => this.exec(e, params, signal, driver, map)
    this.cached =
      o.cache === undefined
        ? undefined
        : new CachedReads({
            o,
            cache: o.cache,
            versions,
            counters: this.c,
            events: this.events,
            table: this.table,
            exec: this.execDefault,
            // pg reads wait on the network between them, so the store of a miss can follow its
            // answer (PGlite's can run back to back in promise jobs, with no check phase between)
            storeAfterAnswer: driver.backend === 'pg',
            star: (v, e, params, co, signal) =>
              this.res.noteStar(v)
                ? this.querySlow(e.text, params, signal === undefined ? undefined : { signal }, co)
                : undefined,
          })
    this.detach = o.monitor?.attach(this)
  }

  /** The client's name (metrics label). */
  get name(): string {
    return this.o.name
  }

  /** 'pg' or 'pglite'. */
  get backend(): 'pg' | 'pglite' {
    return this.driver.backend
  }

  query<T = Record<string, unknown>>(statement: SqlStatement, options?: QueryOptions): Promise<QueryResult<T>>
  query<T = Record<string, unknown>>(
    text: string,
    params?: readonly unknown[],
    options?: QueryOptions,
  ): Promise<QueryResult<T>>
  query<T>(
    a: string | SqlStatement,
    b?: readonly unknown[] | QueryOptions,
    c?: QueryOptions,
  ): Promise<QueryResult<T>> {
    let text: string
    let params: readonly unknown[]
    let opts: QueryOptions | undefined
    let co: QueryCacheOptions | undefined
    try {
      if (this.closed) throw new ClosedError(`db "${this.o.name}"`)
      ;[text, params, opts] = normalize(a, b, c)
      co = cacheOptions(opts)
    } catch (err) {
      return Promise.reject(err)
    }
    const e = this.res.known(text)
    // the hot paths: a known read, cached (resolved, cacheable) or not, with no async hop of ours;
    // whatever they throw is a rejection, as on the other paths (regression: a cache option the
    // cache refused, or a parameter the key could not encode, threw out of query() synchronously)
    if (e !== undefined && e.analysis.kind === 'read') {
      try {
        if (co === undefined || this.cached === undefined) {
          return this.exec(e, params, opts?.signal, this.driver, uncached<T>)
        }
        if (e.reads !== undefined && e.analysis.uncacheable === undefined) {
          return this.cached.read<T>(e, params, co, opts?.signal)
        }
      } catch (err) {
        return Promise.reject(err)
      }
    }
    return this.querySlow<T>(text, params, opts, co)
  }

  private async querySlow<T>(
    text: string,
    params: readonly unknown[],
    opts: QueryOptions | undefined,
    co: QueryCacheOptions | undefined,
  ): Promise<QueryResult<T>> {
    const e = await this.res.entry(text)
    const a = e.analysis
    if (a.kind === 'tx') {
      throw new TypeError(
        'BEGIN / COMMIT / ROLLBACK cannot run through query(): use db.transaction(async (tx) => ...)',
      )
    }
    if (co !== undefined && this.cached !== undefined) {
      if ((a.kind === 'read' && a.uncacheable !== undefined) || a.unparsed) {
        this.c.uncacheable++
        if (this.events.has('uncacheable'))
          this.events.emit('uncacheable', { text, reason: a.uncacheable ?? 'unknown' })
      } else if (a.kind !== 'read') {
        throw new UncacheableError(a.uncacheable ?? 'it writes')
      } else if ((await this.res.resolve(e, this.catalogRun)).complete) {
        return this.cached.read<T>(e, params, co, opts?.signal)
      } else {
        this.c.uncacheable++
        if (this.events.has('uncacheable'))
          this.events.emit('uncacheable', { text, reason: 'a relation it reads did not resolve to a table' })
      }
    }
    if (a.kind === 'read') return uncached<T>(await this.exec(e, params, opts?.signal, this.driver))
    const writes = a.kind === 'write' ? (await this.res.resolve(e, this.catalogRun)).writes : []
    try {
      return uncached<T>(await this.exec(e, params, opts?.signal, this.driver))
    } finally {
      // bumped even when the statement failed: a multi-statement text may have done part of its work
      if (a.kind === 'write') await this.bump(writes)
      else await this.bumpAll()
    }
  }

  /**
   * Runs one statement, timed, with its statistics and slow-query capture. `map` turns the result
   * into what the caller wants in the same step (the cached-read miss freezes and wraps it there:
   * one promise step less on the miss path than awaiting this and then mapping).
   */
  private exec<R = RawResult>(
    e: Entry,
    params: readonly unknown[],
    signal: AbortSignal | undefined,
    runner: Runner,
    map?: (r: RawResult) => R,
  ): Promise<R> {
    // accepted before close() but not sent yet (still parsed or resolved): refused with E_CLOSED
    // (regression: it reached the ended pool and failed as an uncoded 500, 'Cannot use a pool
    // after calling end on the pool')
    if (this.closed) return Promise.reject(new ClosedError(`db "${this.o.name}"`))
    this.c.queries++
    const start = performance.now()
    let running: Promise<RawResult>
    try {
      running = runner.run(e.text, params, signal, e.prepared)
    } catch (err) {
      running = Promise.reject(err)
    }
    return running.then(
      (r) => {
        this.observe(e, params, performance.now() - start, r.rowCount, true, runner)
        return map === undefined ? (r as R) : map(r)
      },
      (err: unknown) => {
        this.c.errors++
        this.observe(e, params, performance.now() - start, 0, false, runner)
        if (isHotpathError(err)) throw err
        throw new DbQueryError(e.text, err)
      },
    )
  }

  private observe(
    e: Entry,
    params: readonly unknown[],
    ms: number,
    rows: number,
    ok: boolean,
    runner: Runner,
  ): void {
    const fp = e.analysis.fingerprint || e.text
    this.table?.record(fp, e.text, ms, rows, ok, params)
    if (this.events.has('query'))
      this.events.emit('query', { text: e.text, fingerprint: fp, durationMs: ms, rows, ok })
    const slow = this.slow
    if (slow !== undefined && ms >= slow.settings.thresholdMs && ok) {
      // a plan is captured outside any transaction (on PGlite it waits for the transaction to end)
      slow.record(
        e.text,
        fp,
        params,
        ms,
        e.analysis.kind === 'read',
        runner === this.driver ? runner : this.driver,
      )
    }
  }

  private async bump(tables: readonly string[]): Promise<void> {
    if (tables.length === 0) return
    this.c.invalidations++
    await this.versions.bump(tables)
    if (this.events.has('invalidate')) this.events.emit('invalidate', { tables })
  }

  /** After DDL or a statement whose effects cannot be seen: every cached read is invalid, every analysis too. */
  private async bumpAll(): Promise<void> {
    this.res.clear()
    await this.bump(['*'])
  }

  /**
   * Runs `fn` in a transaction on one connection. Reads inside it are never cached (they see the
   * transaction's own writes); the tables it wrote are invalidated once it commits, not before,
   * and not at all when it rolls back.
   */
  async transaction<T>(
    fn: (tx: Transaction) => Promise<T>,
    options: { signal?: AbortSignal } = {},
  ): Promise<T> {
    if (this.closed) throw new ClosedError(`db "${this.o.name}"`)
    checkTransactionArgs(fn, options)
    const writes = new Set<string>()
    const state = { other: false, reachedCommit: false, ended: false }
    try {
      return await this.driver.transaction(async (conn) => {
        const tx = txHandle(this.txDeps, conn, writes, state)
        try {
          const result = await fn(tx)
          state.reachedCommit = true
          return result
        } finally {
          state.ended = true
        }
      }, options.signal)
    } finally {
      // once COMMIT was sent the outcome may be unknown (a dropped connection): invalidate anyway
      if (state.reachedCommit) {
        if (state.other) await this.bumpAll()
        if (writes.size > 0) await this.bump([...writes].sort())
      }
    }
  }

  /**
   * Runs many statements with at most `concurrency` at once (the rest wait), results in order.
   * Rejects with the first failure; statements not yet started then do not start.
   */
  batchQuery<T = Record<string, unknown>>(
    items: readonly BatchItem[],
    options: BatchQueryOptions = {},
  ): Promise<Array<QueryResult<T>>> {
    return batchQuery<T>(this, items, options, this.driver.stats().max)
  }

  /** Invalidates every cached read of `tables` ('schema.table'), e.g. after a write made outside the app. */
  async invalidate(tables: readonly string[]): Promise<void> {
    if (!Array.isArray(tables) || tables.some((t) => typeof t !== 'string' || t.length === 0)) {
      throw new TypeError(
        `invalidate() takes an array of table names ('public.users'); received ${JSON.stringify(tables)}`,
      )
    }
    // names are resolved like a statement's: the search_path applies to an unqualified name and
    // a view stands for its base tables (regression: an unqualified name always meant
    // public.<name>, so it invalidated nothing for a table in another schema on the search_path).
    // A name that resolves to nothing, or when the catalog cannot be asked, is taken as written.
    const names = new Set<string>()
    for (const t of tables) {
      const i = t.indexOf('.')
      const rel = i < 0 ? { schema: undefined, name: t } : { schema: t.slice(0, i), name: t.slice(i + 1) }
      const found = await this.res.catalog.tables([rel], this.catalogRun).then(
        (r) => r.tables,
        () => [],
      )
      if (found.length === 0) names.add(i < 0 ? `public.${t}` : t)
      for (const f of found) names.add(f)
    }
    await this.bump([...names].sort())
  }

  /**
   * Opt-in, PostgreSQL only: installs a statement-level trigger on each of `tables` that notifies
   * on every write, and listens on a connection held out of the pool, so writes made outside the
   * app (psql, cron jobs, other services) invalidate cached reads too. Needs the rights to create
   * a function and triggers. Resolves once listening.
   */
  async watchExternalWrites(tables: readonly string[]): Promise<void> {
    const names: string[] = []
    for (const t of checkWatched(this.driver.backend, tables)) {
      const e = await this.res.entry(`SELECT 1 FROM ${t}`)
      const found = (await this.res.catalog.tables(e.analysis.reads, this.catalogRun)).tables
      if (found.length === 0) throw new TypeError(`watchExternalWrites(): no table "${t}"`)
      names.push(...found)
    }
    for (const t of names) for (const ddl of triggerSql(t)) await this.driver.run(ddl, [], undefined)
    if (this.stopListening === undefined) {
      const client = await (
        this.driver as unknown as { listenClient(): Promise<ListeningClient> }
      ).listenClient()
      this.stopListening = await listen(client, (table) => void this.bump([table]).catch(() => {}))
    }
  }

  /** The tables (schema.table) a statement reads and writes, as the client sees them (views expanded). */
  async tablesOf(text: string): Promise<{ kind: Analysis['kind']; reads: string[]; writes: string[] }> {
    const e = await this.res.entry(text)
    const t = await this.res.resolve(e, this.catalogRun)
    return { kind: e.analysis.kind, reads: t.reads.filter((x) => x !== '*'), writes: [...t.writes] }
  }

  /** Per-fingerprint statement statistics, by total time. */
  statements(): StatementStats[] {
    return this.table?.list() ?? []
  }

  /**
   * The captured workload for the index advisor: each statement shape once, with the parameters
   * of its first call and how often it ran.
   */
  workload(): Array<{ text: string; params: readonly unknown[]; calls: number }> {
    return this.table?.workload() ?? []
  }

  /** Recorded slow statements, oldest first. */
  slowQueries(): SlowQuery[] {
    return this.slow?.list() ?? []
  }

  /** Resolves when the plans of slow statements recorded so far have been captured. */
  async plansSettled(): Promise<void> {
    await this.slow?.settled()
  }

  /** Pool figures: total, idle, waiting, acquire waits and timeouts (PGlite: queue depth). */
  poolStats(): PoolStats {
    return this.driver.stats()
  }

  /** Counters and pool figures. */
  stats(): DbStats {
    return {
      name: this.o.name,
      backend: this.driver.backend,
      queries: this.c.queries,
      errors: this.c.errors,
      cachedReads: this.c.cachedReads,
      // counted where a read is answered from the cache, not derived from the other counters
      // (regression: cachedReads - cacheMisses also counted bypassed reads, and callers that
      // joined a load which failed, as hits)
      cacheHits: this.c.cacheHits,
      cacheMisses: this.c.cacheMisses,
      uncacheable: this.c.uncacheable,
      invalidations: this.c.invalidations,
      bypassed: this.c.bypassed,
      slowQueries: this.slow?.list().length ?? 0,
      pool: this.driver.stats(),
    }
  }

  /**
   * A health check for the monitor (`monitor.addHealthCheck(db.healthCheck())`): one trivial
   * statement; unhealthy when it fails, degraded when a caller's wait for a connection timed out
   * since the previous check or more callers wait than the pool has connections.
   */
  healthCheck(): HealthCheck {
    return poolHealthCheck(this.o.name, this.driver)
  }

  /** Told by the version source when the shared versions become unavailable or available. @internal */
  _versionsChanged(available: boolean, reason: string): void {
    if (this.events.has('versions')) this.events.emit('versions', { available, reason })
  }

  /** Subscribes to an event; returns a disposer. */
  on<K extends keyof DbEvents>(event: K, listener: (payload: DbEvents[K]) => void): Disposer {
    return this.events.on(event, listener)
  }

  /** The backend's runner (the index advisor's what-if sessions use it). @internal */
  get _driver(): Driver {
    return this.driver
  }

  /** Closes the client: waits for plan captures, closes what it opened (a pool or PGlite you passed stays open). */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.detach?.()
    await this.stopListening?.()
    await this.slow?.settled()
    await this.versions.close()
    await this.driver.close()
  }
}

export type { DbEvents, DbStats, Queryable, QueryResult, Transaction } from './types.js'
