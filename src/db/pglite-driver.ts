/**
 * The PGlite backend: one embedded PostgreSQL (WASM) with one connection. Statements queue here,
 * in our own FIFO, so the queue depth and the wait are known exactly (PGlite's internal mutex
 * exposes neither) and an AbortSignal can take a statement out of the queue before it starts.
 * A statement that has started runs to the end: PGlite cannot cancel one. A statement that waits
 * longer than `acquireTimeout` fails with E_ACQUIRE_TIMEOUT, as on a pg pool: with one connection,
 * a `db.query` made inside `db.transaction()` (instead of through the transaction's handle) waits
 * for the transaction that waits for it, and hung for good.
 */
import { AbortedError, ClosedError } from '../errors.js'
import { AcquireTimeoutError } from '../resilience/index.js'
import type { Driver, PoolStats, RawResult, Runner } from './driver.js'
import { Histogram } from './histogram.js'
import { rolledBack } from './pg-driver.js'

/** The parts of a PGlite instance hotpath uses; any `PGlite` is one. */
export interface PGliteLike {
  query<T>(
    text: string,
    params?: unknown[],
  ): Promise<{ rows: T[]; affectedRows?: number; fields: Array<{ name: string }> }>
  close(): Promise<void>
  readonly closed?: boolean
}

/** Loads `@electric-sql/pglite` (an optional peer dependency) and opens an in-memory or on-disk database. */
export async function openPGlite(dataDir: string | undefined): Promise<PGliteLike> {
  let mod: { PGlite: { create(dataDir?: string): Promise<PGliteLike> } }
  try {
    mod = (await import('@electric-sql/pglite')) as unknown as typeof mod
  } catch (err) {
    throw new Error(
      'the embedded database needs the optional peer dependency "@electric-sql/pglite": npm install @electric-sql/pglite',
      { cause: err },
    )
  }
  return mod.PGlite.create(dataDir)
}

interface Waiter {
  resolve: () => void
  reject: (err: unknown) => void
  signal: AbortSignal | undefined
  onAbort: (() => void) | undefined
  timer: ReturnType<typeof setTimeout> | undefined
}

/** Options of the PGlite driver. */
export interface PGliteDriverOptions {
  db: PGliteLike
  /** Closed with the client (opened by createDb). */
  owned: boolean
  /** The client's name (in errors). */
  name: string
  /** How long a statement waits for the connection before E_ACQUIRE_TIMEOUT. */
  acquireTimeoutMs: number
}

export class PGliteDriver implements Driver {
  readonly backend = 'pglite' as const
  private busy = false
  private readonly queue: Waiter[] = []
  private readonly acquireWait = new Histogram()
  private acquires = 0
  private emptyAcquires = 0
  private canceledAcquires = 0
  private acquireTimeouts = 0
  /** What holds the connection: a single statement, or a session (a transaction, an advisor's what-if run). */
  private held: 'statement' | 'transaction' = 'statement'
  private readonly db: PGliteLike
  private readonly owned: boolean
  private closed = false
  /** Resolved when the connection is next handed back with no one waiting (close() waits for it). */
  private readonly idle: Array<() => void> = []

  constructor(private readonly o: PGliteDriverOptions) {
    this.db = o.db
    this.owned = o.owned
  }

  private acquire(signal: AbortSignal | undefined): Promise<void> | undefined {
    if (signal?.aborted) return Promise.reject(new AbortedError(signal.reason))
    if (this.closed) return Promise.reject(new ClosedError(`db "${this.o.name}"`))
    if (!this.busy) {
      this.busy = true
      this.acquires++
      this.acquireWait.record(0)
      return undefined
    }
    this.emptyAcquires++
    const start = performance.now()
    return new Promise<void>((resolve, reject) => {
      const w: Waiter = {
        resolve: () => {
          this.acquires++
          this.acquireWait.record(performance.now() - start)
          resolve()
        },
        reject,
        signal,
        onAbort: undefined,
        timer: undefined,
      }
      // 0 waits without a limit, as pg's connectionTimeoutMillis does (regression: every statement
      // queued behind another failed at once on PGlite, where the same option waited on pg)
      if (this.o.acquireTimeoutMs > 0)
        w.timer = setTimeout(() => {
          const i = this.queue.indexOf(w)
          if (i < 0) return
          this.queue.splice(i, 1)
          if (w.onAbort !== undefined) signal?.removeEventListener('abort', w.onAbort)
          this.acquireTimeouts++
          reject(
            new AcquireTimeoutError(
              this.o.name,
              this.o.acquireTimeoutMs,
              this.held === 'transaction'
                ? 'PGlite has one connection and a transaction (or session) held it: inside db.transaction(), run statements through the transaction handle (tx.query), not db.query'
                : 'PGlite has one connection: raise acquireTimeout, or shorten the statements ahead',
            ),
          )
        }, this.o.acquireTimeoutMs)
      if (signal !== undefined) {
        w.onAbort = () => {
          const i = this.queue.indexOf(w)
          if (i >= 0) {
            this.queue.splice(i, 1)
            clearTimeout(w.timer)
            this.canceledAcquires++
            reject(new AbortedError(signal.reason))
          }
        }
        signal.addEventListener('abort', w.onAbort, { once: true })
      }
      this.queue.push(w)
    })
  }

  private release(): void {
    const next = this.queue.shift()
    if (next === undefined) {
      this.busy = false
      for (const r of this.idle.splice(0)) r()
      return
    }
    clearTimeout(next.timer)
    if (next.onAbort !== undefined) next.signal?.removeEventListener('abort', next.onAbort)
    next.resolve()
  }

  private async exec(text: string, params: readonly unknown[]): Promise<RawResult> {
    const r = await this.db.query<Record<string, unknown>>(text, params as unknown[])
    const command = commandOf(text)
    // pg's rowCount: rows returned by a query, rows affected by a write (PGlite reports a SELECT's
    // affected rows, 0: regression, a SELECT's rowCount and the statement statistics' rows read 0).
    // A statement that returns columns (a read, or a write with RETURNING) counts its rows
    // (regression: a SELECT after a comment, or in parentheses, had rowCount 0 where pg said N)
    const rowCount =
      r.fields.length > 0 || READS.has(command) ? r.rows.length : (r.affectedRows ?? r.rows.length)
    return { rows: r.rows, rowCount, command }
  }

  async run(text: string, params: readonly unknown[], signal: AbortSignal | undefined): Promise<RawResult> {
    const wait = this.acquire(signal)
    if (wait !== undefined) await wait
    try {
      return await this.exec(text, params)
    } finally {
      this.release()
    }
  }

  async session<T>(fn: (conn: Runner) => Promise<T>, signal: AbortSignal | undefined): Promise<T> {
    const wait = this.acquire(signal)
    if (wait !== undefined) await wait
    const conn: Runner = {
      run: (t, p, s) => (s?.aborted ? Promise.reject(new AbortedError(s.reason)) : this.exec(t, p)),
    }
    this.held = 'transaction'
    try {
      return await fn(conn)
    } finally {
      this.held = 'statement'
      this.release()
    }
  }

  transaction<T>(fn: (conn: Runner) => Promise<T>, signal: AbortSignal | undefined): Promise<T> {
    return this.session(async (conn) => {
      await conn.run('BEGIN', [], undefined)
      let result: T
      try {
        result = await fn(conn)
        // as on pg: a transaction whose signal was aborted by the time its callback returned rolls back
        if (signal?.aborted) throw new AbortedError(signal.reason)
      } catch (err) {
        await conn.run('ROLLBACK', [], undefined).catch(() => {})
        throw err
      }
      // PGlite reports no command tag: ask the server whether the transaction is still healthy
      const state = await conn.run('SELECT 1 AS ok', [], undefined).then(
        () => true,
        () => false,
      )
      await conn.run(state ? 'COMMIT' : 'ROLLBACK', [], undefined)
      if (!state) throw rolledBack()
      return result
    }, signal)
  }

  stats(): PoolStats {
    return {
      backend: 'pglite',
      total: 1,
      idle: this.busy ? 0 : 1,
      waiting: this.queue.length,
      max: 1,
      acquires: this.acquires,
      emptyAcquires: this.emptyAcquires,
      acquireTimeouts: this.acquireTimeouts,
      canceledAcquires: this.canceledAcquires,
      acquireWait: this.acquireWait.snapshot(),
    }
  }

  async close(): Promise<void> {
    this.closed = true
    // statements still queued were accepted before close but never sent: refused with E_CLOSED
    // (regression: they ran on the closed PGlite and failed uncoded, 'PGlite is closed'), and
    // what holds the connection finishes before PGlite closes (regression: a transaction under
    // way failed at its COMMIT)
    for (const w of this.queue.splice(0)) {
      clearTimeout(w.timer)
      if (w.onAbort !== undefined) w.signal?.removeEventListener('abort', w.onAbort)
      w.reject(new ClosedError(`db "${this.o.name}"`))
    }
    if (this.busy) {
      await new Promise<void>((r) => {
        this.idle.push(r)
      })
    }
    if (this.owned && this.db.closed !== true) await this.db.close()
  }
}

/** Commands whose rowCount is the number of rows they return. */
const READS = new Set(['SELECT', 'VALUES', 'TABLE'])

function commandOf(text: string): string {
  const m = /^(?:\s|--[^\n]*\n?|\/\*[\s\S]*?\*\/|\()*(?:WITH\b[\s\S]*?\)\s*)?([A-Za-z]+)/.exec(text)
  return m === null ? '' : (m[1] as string).toUpperCase()
}
