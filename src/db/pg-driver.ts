/**
 * The node-postgres backend. Each statement borrows a client from the Pool the way `pool.query`
 * does, but times the borrow (the acquire-wait histogram node-postgres lacks) and keeps the client
 * at hand so an AbortSignal can cancel the running statement with a cancel request, like psql's
 * Ctrl-C: the server stops the statement and the connection stays usable.
 */
import { AbortedError } from '../errors.js'
import { AcquireTimeoutError } from '../resilience/index.js'
import type { Driver, PoolStats, RawResult, Runner } from './driver.js'
import { DbQueryError } from './errors.js'
import type { ListeningClient } from './external.js'
import { Histogram } from './histogram.js'
import { loadPg, type PgClientLike, type PgModule, type PgPoolLike, type PgResultLike } from './pg-pool.js'
import { PreparedRenames } from './prepared.js'

/** Options of the pg driver. */
export interface PgDriverOptions {
  pool: PgPoolLike
  /** End the pool on close (the driver opened it). */
  owned: boolean
  name: string
  acquireTimeoutMs: number
}

/** Marks a connection that has the driver's 'error' listener. */
const LISTENED = Symbol('hotpath.db.errorListener')
/**
 * Marks a connection a cancel request was sent for whose statement has not been seen cancelled:
 * the request may still be on its way and would cancel whatever runs there next, so it is not
 * handed back to the pool. A flag on the connection (set up with LISTENED, so its shape stays
 * put), not a WeakSet: release() reads it on every statement.
 */
const CANCELLING = Symbol('hotpath.db.cancelling')
const ignore = (): void => {}

type Flagged = { [LISTENED]?: true; [CANCELLING]?: boolean; on(event: 'error', fn: () => void): unknown }
const flags = (client: PgClientLike): Flagged => client as unknown as Flagged

export class PgDriver implements Driver {
  readonly backend = 'pg' as const
  private readonly acquireWait = new Histogram()
  private acquires = 0
  private emptyAcquires = 0
  private acquireTimeouts = 0
  private canceledAcquires = 0
  private pgModule: PgModule | undefined
  /** The current names of the prepared statements whose server-side plans went stale. */
  private readonly names = new PreparedRenames()
  /**
   * A checked-out connection the server closes (restart, failover, pg_terminate_backend) emits
   * 'error' after failing its statement; the pool listens only while it is idle, so with no
   * listener of ours the event was thrown (regression: it crashed the process). The failure
   * reaches the caller through the statement, and the pool drops the unqueryable connection
   * when it is released.
   */
  private hold(client: PgClientLike): PgClientLike {
    // a flag on the connection, not a WeakSet: this runs on every statement
    const c = flags(client)
    if (c[LISTENED] !== true) {
      c[LISTENED] = true
      c[CANCELLING] = false
      c.on('error', ignore)
    }
    return client
  }

  constructor(private readonly o: PgDriverOptions) {}

  private async acquire(signal: AbortSignal | undefined): Promise<PgClientLike> {
    if (signal?.aborted) throw new AbortedError(signal.reason)
    const start = this.beforeAcquire()
    const pending = this.o.pool.connect()
    let client: PgClientLike
    try {
      client = signal === undefined ? await pending : await this.abortable(pending, signal)
    } catch (err) {
      throw this.acquireFailed(err)
    }
    this.acquired(start)
    return this.hold(client)
  }

  private beforeAcquire(): number {
    const pool = this.o.pool
    if (pool.idleCount === 0 && pool.totalCount >= (pool.options.max ?? 10)) this.emptyAcquires++
    return performance.now()
  }

  private acquired(start: number): void {
    this.acquires++
    this.acquireWait.record(performance.now() - start)
  }

  private acquireFailed(err: unknown): unknown {
    if (err instanceof Error && /timeout exceeded when trying to connect/i.test(err.message)) {
      this.acquireTimeouts++
      return Object.assign(new AcquireTimeoutError(this.o.name, this.o.acquireTimeoutMs), { cause: err })
    }
    return err
  }

  private abortable(pending: Promise<PgClientLike>, signal: AbortSignal): Promise<PgClientLike> {
    return new Promise<PgClientLike>((resolve, reject) => {
      const onAbort = () => {
        this.canceledAcquires++
        // the connection still arrives later: hand it straight back
        pending.then(
          (c) => c.release(),
          () => {},
        )
        reject(new AbortedError(signal.reason))
      }
      signal.addEventListener('abort', onAbort, { once: true })
      pending.then(
        (c) => {
          signal.removeEventListener('abort', onAbort)
          resolve(c)
        },
        (e: unknown) => {
          signal.removeEventListener('abort', onAbort)
          reject(e)
        },
      )
    })
  }

  /** One statement on `client` (named when `prepared`), retried once under a new name when its plan went stale. */
  private async query(
    client: PgClientLike,
    text: string,
    params: readonly unknown[],
    prepared: string | undefined,
  ): Promise<PgResultLike> {
    const values = params as unknown[]
    const name = this.names.current(prepared)
    try {
      return await client.query(name === undefined ? { text, values } : { name, text, values })
    } catch (err) {
      const next = this.names.stale(prepared, name, err)
      if (next === undefined) throw err
      return await client.query({ name: next, text, values })
    }
  }

  private async exec(
    client: PgClientLike,
    text: string,
    params: readonly unknown[],
    signal: AbortSignal | undefined,
    prepared?: string,
  ): Promise<RawResult> {
    if (signal?.aborted) throw new AbortedError(signal.reason)
    const onAbort = signal === undefined ? undefined : () => this.cancel(client)
    if (onAbort !== undefined) signal?.addEventListener('abort', onAbort, { once: true })
    try {
      return toRaw(await this.query(client, text, params, prepared))
    } catch (err) {
      if ((err as { code?: string }).code === '57014') flags(client)[CANCELLING] = false
      if (signal?.aborted && (err as { code?: string }).code === '57014')
        throw new AbortedError(signal.reason)
      throw err
    } finally {
      if (onAbort !== undefined) signal?.removeEventListener('abort', onAbort)
    }
  }

  /**
   * Sends a cancel request for the statement running on `client` (a separate short connection).
   * The statement is taken when the signal fires: when it has already ended nothing is sent
   * (regression: with no statement running the request was sent anyway, reached the server
   * after the connection had gone back to the pool, and cancelled the next caller's statement).
   */
  private cancel(client: PgClientLike): void {
    const c = client as unknown as { connectionParameters?: Record<string, unknown>; activeQuery?: unknown }
    const active = c.activeQuery
    if (active === null || active === undefined) return
    flags(client)[CANCELLING] = true
    void (async () => {
      try {
        this.pgModule ??= await loadPg()
        const canceller = new this.pgModule.Client({ ...(c.connectionParameters ?? {}) })
        canceller.cancel(client, active)
      } catch {
        // best effort: the statement then finishes and its result is dropped
      }
    })()
  }

  /** Hands `client` back; dropped when broken or when a cancel request may still reach it. */
  private release(client: PgClientLike, broken: Error | undefined): void {
    const c = flags(client)
    if (broken === undefined && c[CANCELLING] === true) {
      c[CANCELLING] = false
      broken = new Error('a cancel request may still reach this connection')
    }
    client.release(broken)
  }

  /**
   * One statement the way `pool.query` runs it (callback forms of connect and query, one promise
   * of ours), plus the acquire timing; with a signal, through the abortable acquire and exec.
   * Named `prepared` when given (see prepared.ts).
   */
  run(
    text: string,
    params: readonly unknown[],
    signal: AbortSignal | undefined,
    prepared?: string | undefined,
  ): Promise<RawResult> {
    if (signal !== undefined) return this.runAbortable(text, params, signal, prepared)
    return new Promise<RawResult>((resolve, reject) => {
      const start = this.beforeAcquire()
      this.o.pool.connect((err, client) => {
        if (client === undefined || (err !== undefined && err !== null)) {
          reject(this.acquireFailed(err))
          return
        }
        this.acquired(start)
        this.send(this.hold(client), text, params, prepared, true, resolve, reject)
      })
    })
  }

  /**
   * Sends one statement on a borrowed client and hands the client back when it is answered; a
   * named statement whose plan went stale is sent again once under its new name.
   */
  private send(
    client: PgClientLike,
    text: string,
    params: readonly unknown[],
    prepared: string | undefined,
    retry: boolean,
    resolve: (r: RawResult) => void,
    reject: (e: unknown) => void,
  ): void {
    const name = this.names.current(prepared)
    const done = (err: Error | null, r: PgResultLike) => {
      if (err !== null && err !== undefined) {
        if (retry && this.names.stale(prepared, name, err) !== undefined) {
          this.send(client, text, params, prepared, false, resolve, reject)
          return
        }
        client.release(brokenConnection(err))
        reject(err)
        return
      }
      client.release()
      resolve(toRaw(r))
    }
    try {
      if (name === undefined) client.query(text, params as unknown[], done)
      else client.query({ name, text, values: params as unknown[] }, done)
    } catch (err) {
      client.release(brokenConnection(err))
      reject(err)
    }
  }

  /** With a caller's signal (not the hot path): the abortable wait and the cancellable statement. */
  private async runAbortable(
    text: string,
    params: readonly unknown[],
    signal: AbortSignal,
    prepared: string | undefined,
  ): Promise<RawResult> {
    const client = await this.acquire(signal)
    let broken: Error | undefined
    try {
      return await this.exec(client, text, params, signal, prepared)
    } catch (err) {
      broken = brokenConnection(err)
      throw err
    } finally {
      this.release(client, broken)
    }
  }

  async session<T>(fn: (conn: Runner) => Promise<T>, signal: AbortSignal | undefined): Promise<T> {
    const client = await this.acquire(signal)
    const conn: Runner = { run: (t, p, s) => this.exec(client, t, p, s ?? signal) }
    try {
      return await fn(conn)
    } finally {
      this.release(client, undefined)
    }
  }

  /**
   * BEGIN, `fn`, COMMIT on one connection. The signal reaches the acquire and the statements of
   * `fn`, never BEGIN / COMMIT / ROLLBACK: an aborted signal must not keep ROLLBACK from being
   * sent (regression: it was skipped, and the connection went back to the pool inside the open
   * transaction, so the next caller's statements ran in it and were never committed). A signal
   * aborted by the time `fn` returns rolls back. A connection whose ROLLBACK failed is dropped.
   */
  async transaction<T>(fn: (conn: Runner) => Promise<T>, signal: AbortSignal | undefined): Promise<T> {
    const client = await this.acquire(signal)
    let broken: Error | undefined
    const control = (text: string) =>
      this.exec(client, text, [], undefined).catch((err: unknown) => {
        broken = brokenConnection(err)
        throw err
      })
    const conn: Runner = { run: (t, p, s) => this.exec(client, t, p, s ?? signal) }
    try {
      await control('BEGIN')
      let result: T
      try {
        result = await fn(conn)
        if (signal?.aborted) throw new AbortedError(signal.reason)
      } catch (err) {
        await control('ROLLBACK').catch((e: unknown) => {
          broken = e instanceof Error ? e : new Error(String(e))
        })
        throw err
      }
      const done = await control('COMMIT')
      if (done.command === 'ROLLBACK') throw rolledBack()
      return result
    } finally {
      this.release(client, broken)
    }
  }

  /** A connection taken out of the pool for LISTEN (released by the listener's stop function). */
  async listenClient(): Promise<ListeningClient> {
    return (await this.o.pool.connect()) as unknown as ListeningClient
  }

  stats(): PoolStats {
    const p = this.o.pool
    return {
      backend: 'pg',
      total: p.totalCount,
      idle: p.idleCount,
      waiting: p.waitingCount,
      max: p.options.max ?? 10,
      acquires: this.acquires,
      emptyAcquires: this.emptyAcquires,
      acquireTimeouts: this.acquireTimeouts,
      canceledAcquires: this.canceledAcquires,
      acquireWait: this.acquireWait.snapshot(),
    }
  }

  async close(): Promise<void> {
    if (this.o.owned) await this.o.pool.end()
  }
}

/**
 * A node-postgres result as the client wants it. A text of several statements sent without
 * parameters (simple protocol) is answered with one result per statement: the last one stands
 * for the text (regression: reading `rows` of that array threw inside node-postgres' callback,
 * an uncaught exception, and the query never settled).
 */
function toRaw(r: PgResultLike | PgResultLike[]): RawResult {
  const last = Array.isArray(r) ? r[r.length - 1] : r
  const rows = Array.isArray(last?.rows) ? last.rows : []
  return { rows, rowCount: last?.rowCount ?? rows.length, command: last?.command ?? '' }
}

/**
 * A connection-level failure: the connection must not go back into the pool. That is an error
 * without an SQLSTATE, or one the server sent as FATAL / PANIC, after which it closes the
 * connection (regression: a statement ended by pg_terminate_backend, 57P01, gave its closed
 * connection back, and the next statement on it failed with 'Connection terminated unexpectedly').
 */
function brokenConnection(err: unknown): Error | undefined {
  if (!(err instanceof Error)) return undefined
  const e = err as { code?: unknown; severity?: unknown }
  return e.code === undefined || e.severity === 'FATAL' || e.severity === 'PANIC' ? err : undefined
}

/** COMMIT of a transaction in which a statement failed (and the caller caught it) rolls back. */
export function rolledBack(): Error {
  return new DbQueryError(
    'COMMIT',
    Object.assign(
      new Error('COMMIT rolled the transaction back: a statement inside it failed and the error was caught'),
      { code: '25P02' },
    ),
  )
}
