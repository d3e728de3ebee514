/**
 * The PGlite backend: one embedded PostgreSQL (WASM) with one connection. Statements queue here,
 * in our own FIFO, so the queue depth and the wait are known exactly (PGlite's internal mutex
 * exposes neither) and an AbortSignal can take a statement out of the queue before it starts.
 * A statement that has started runs to the end: PGlite cannot cancel one.
 *
 * A connection that queues statements itself and answers them in order (a PGlite in a worker
 * thread, whose answers wait for this thread's event loop) may declare `pipeline: n`: up to n
 * plain statements are then handed to it at once, so it never idles while an answer waits to be
 * read. Sessions and transactions still have the connection to themselves: one starts when the
 * statements handed over have finished, and statements that come after it wait behind it.
 */
import { AbortedError } from '../errors.js'
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
  /**
   * How many plain statements the connection takes at once (it queues them itself and answers
   * in order); absent or 1: one at a time. Transactions always have it alone.
   */
  readonly pipeline?: number
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
  /** A session (exclusive) or a plain statement (may share the connection up to `pipeline`). */
  exclusive: boolean
  resolve: () => void
  reject: (err: unknown) => void
  signal: AbortSignal | undefined
  onAbort: (() => void) | undefined
}

export class PGliteDriver implements Driver {
  readonly backend = 'pglite' as const
  /** A session has the connection. */
  private busy = false
  /** Plain statements handed to the connection and not answered yet. */
  private running = 0
  private readonly depth: number
  private readonly queue: Waiter[] = []
  private readonly acquireWait = new Histogram()
  private acquires = 0
  private emptyAcquires = 0
  private canceledAcquires = 0

  constructor(
    private readonly db: PGliteLike,
    private readonly owned: boolean,
  ) {
    const n = db.pipeline
    this.depth = typeof n === 'number' && Number.isInteger(n) && n > 1 ? n : 1
  }

  /** Whether a statement (or a session) may start now, ahead of nobody. */
  private free(exclusive: boolean): boolean {
    return !this.busy && (exclusive ? this.running === 0 : this.running < this.depth)
  }

  private take(exclusive: boolean): void {
    if (exclusive) this.busy = true
    else this.running++
  }

  private acquire(signal: AbortSignal | undefined, exclusive: boolean): Promise<void> | undefined {
    if (signal?.aborted) return Promise.reject(new AbortedError(signal.reason))
    if (this.queue.length === 0 && this.free(exclusive)) {
      this.take(exclusive)
      this.acquires++
      this.acquireWait.record(0)
      return undefined
    }
    this.emptyAcquires++
    const start = performance.now()
    return new Promise<void>((resolve, reject) => {
      const w: Waiter = {
        exclusive,
        resolve: () => {
          this.acquires++
          this.acquireWait.record(performance.now() - start)
          resolve()
        },
        reject,
        signal,
        onAbort: undefined,
      }
      if (signal !== undefined) {
        w.onAbort = () => {
          const i = this.queue.indexOf(w)
          if (i >= 0) {
            this.queue.splice(i, 1)
            this.canceledAcquires++
            reject(new AbortedError(signal.reason))
            // a session that was waiting may have held back statements behind it
            this.grant()
          }
        }
        signal.addEventListener('abort', w.onAbort, { once: true })
      }
      this.queue.push(w)
    })
  }

  private release(exclusive: boolean): void {
    if (exclusive) this.busy = false
    else this.running--
    this.grant()
  }

  /** Starts waiters in FIFO order while the connection has room for the next one. */
  private grant(): void {
    for (;;) {
      const next = this.queue[0]
      if (next === undefined || !this.free(next.exclusive)) return
      this.queue.shift()
      this.take(next.exclusive)
      if (next.onAbort !== undefined) next.signal?.removeEventListener('abort', next.onAbort)
      next.resolve()
    }
  }

  private async exec(text: string, params: readonly unknown[]): Promise<RawResult> {
    const r = await this.db.query<Record<string, unknown>>(text, params as unknown[])
    return { rows: r.rows, rowCount: r.affectedRows ?? r.rows.length, command: commandOf(text) }
  }

  async run(text: string, params: readonly unknown[], signal: AbortSignal | undefined): Promise<RawResult> {
    const wait = this.acquire(signal, false)
    if (wait !== undefined) await wait
    try {
      return await this.exec(text, params)
    } finally {
      this.release(false)
    }
  }

  async session<T>(fn: (conn: Runner) => Promise<T>, signal: AbortSignal | undefined): Promise<T> {
    const wait = this.acquire(signal, true)
    if (wait !== undefined) await wait
    const conn: Runner = {
      run: (t, p, s) => (s?.aborted ? Promise.reject(new AbortedError(s.reason)) : this.exec(t, p)),
    }
    try {
      return await fn(conn)
    } finally {
      this.release(true)
    }
  }

  transaction<T>(fn: (conn: Runner) => Promise<T>, signal: AbortSignal | undefined): Promise<T> {
    return this.session(async (conn) => {
      await conn.run('BEGIN', [], undefined)
      let result: T
      try {
        result = await fn(conn)
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
      idle: this.busy || this.running > 0 ? 0 : 1,
      waiting: this.queue.length,
      max: 1,
      acquires: this.acquires,
      emptyAcquires: this.emptyAcquires,
      acquireTimeouts: 0,
      canceledAcquires: this.canceledAcquires,
      acquireWait: this.acquireWait.snapshot(),
    }
  }

  async close(): Promise<void> {
    if (this.owned && this.db.closed !== true) await this.db.close()
  }
}

function commandOf(text: string): string {
  const m = /^\s*(?:WITH\b[\s\S]*?\)\s*)?([A-Za-z]+)/.exec(text)
  return m === null ? '' : (m[1] as string).toUpperCase()
}
