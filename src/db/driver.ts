/**
 * The contract both backends meet (pg-driver.ts over a node-postgres Pool, pglite-driver.ts over
 * one embedded PGlite), so the client above never asks which one it runs on. Both measure the
 * wait for a connection themselves: node-postgres exposes no acquire-wait figure, and PGlite is
 * one connection whose queue depth is the only "pool" figure it has.
 */
import type { HistogramSnapshot } from './histogram.js'

/** A statement's result as a backend returns it. */
export interface RawResult {
  rows: Array<Record<string, unknown>>
  rowCount: number
  /** The command tag's verb (SELECT, INSERT...) where the backend reports it. */
  command: string
}

/** Something that runs statements: the pool, or one connection inside a transaction. */
export interface Runner {
  /**
   * Runs one statement. `prepared`: the name it may run under as a named prepared statement
   * (the pg driver's pool path uses it; transactions, sessions and PGlite run it unnamed).
   */
  run(
    text: string,
    params: readonly unknown[],
    signal: AbortSignal | undefined,
    prepared?: string | undefined,
  ): Promise<RawResult>
}

/** Pool figures: what node-postgres exposes plus what it does not (acquire waits and timeouts). */
export interface PoolStats {
  backend: 'pg' | 'pglite'
  /** Connections open (PGlite: 1). */
  total: number
  /** Connections open and idle. */
  idle: number
  /** Callers waiting for a connection (PGlite: its queue depth). */
  waiting: number
  /** Most connections. */
  max: number
  /** Acquires that completed. */
  acquires: number
  /** Acquires that had to wait because no connection was idle. */
  emptyAcquires: number
  /** Acquires that gave up after `acquireTimeout`. */
  acquireTimeouts: number
  /** Acquires abandoned through an AbortSignal. */
  canceledAcquires: number
  /** Time from asking for a connection to holding one. */
  acquireWait: HistogramSnapshot
}

/** A backend. */
export interface Driver extends Runner {
  readonly backend: 'pg' | 'pglite'
  /** Runs `fn` on one connection inside BEGIN ... COMMIT (ROLLBACK when `fn` throws). */
  transaction<T>(fn: (conn: Runner) => Promise<T>, signal: AbortSignal | undefined): Promise<T>
  /** Runs `fn` on one connection without a transaction (the advisor's what-if sessions). */
  session<T>(fn: (conn: Runner) => Promise<T>, signal: AbortSignal | undefined): Promise<T>
  stats(): PoolStats
  close(): Promise<void>
}
