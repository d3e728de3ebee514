/**
 * node-postgres as hotpath/db sees it: the parts of its Pool, client and result that the pg
 * driver uses (any `pg.Pool` is one), and opening a Pool from a URL with `pg` loaded on demand
 * (an optional peer dependency).
 */

/** A statement's result as node-postgres reports it. */
export interface PgResultLike {
  rows: Array<Record<string, unknown>>
  rowCount: number | null
  command: string
}

/** The parts of a node-postgres client that hotpath uses. */
export interface PgClientLike {
  query(config: { name?: string; text: string; values: unknown[] }): Promise<PgResultLike>
  /** The callback form (what `pool.query` uses): no promise of node-postgres' own per statement. */
  query(text: string, values: unknown[], callback: (err: Error | null, result: PgResultLike) => void): void
  /** The callback form with a statement name (a named prepared statement). */
  query(
    config: { name: string; text: string; values: unknown[] },
    callback: (err: Error | null, result: PgResultLike) => void,
  ): void
  release(err?: Error | boolean): void
}

/** The parts of a node-postgres `Pool` that hotpath uses; any `pg.Pool` is one. */
export interface PgPoolLike {
  connect(): Promise<PgClientLike>
  /** The callback form (what `pool.query` uses). */
  connect(callback: (err: Error | undefined, client: PgClientLike | undefined) => void): void
  end(): Promise<void>
  readonly totalCount: number
  readonly idleCount: number
  readonly waitingCount: number
  readonly options: { max?: number }
}

export interface PgModule {
  Pool: new (config: Record<string, unknown>) => PgPoolLike
  Client: new (config: Record<string, unknown>) => { cancel(client: unknown, query: unknown): void }
}

/** Loads `pg` (an optional peer dependency) and opens a Pool. */
export async function openPgPool(url: string, max: number, acquireTimeoutMs: number): Promise<PgPoolLike> {
  const pg = await loadPg()
  const pool = new pg.Pool({
    connectionString: url,
    max,
    connectionTimeoutMillis: acquireTimeoutMs,
  }) as PgPoolLike & {
    on(event: 'error', listener: (err: Error) => void): unknown
  }
  // an idle connection the server closes (restart, failover, pg_terminate_backend, idle timeouts)
  // makes the Pool emit 'error'; it drops that connection itself, but with no listener the event
  // is thrown (regression: it crashed the process)
  pool.on('error', () => {})
  return pool
}

/** Loads `pg`, failing with what to install when it is missing. */
export async function loadPg(): Promise<PgModule> {
  try {
    const m = (await import('pg')) as unknown as { default?: PgModule } & PgModule
    return m.default ?? m
  } catch (err) {
    throw new Error('a PostgreSQL URL needs the optional peer dependency "pg": npm install pg', {
      cause: err,
    })
  }
}
