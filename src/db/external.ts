/**
 * Writes made outside the app (psql, cron jobs, other services), opt-in on PostgreSQL: a
 * statement-level trigger on each watched table calls pg_notify with the table's name, and one
 * connection held out of the pool LISTENs; each notification bumps that table's version, so
 * cached reads of it are fresh again. (The technique of PGlite's live extension, on a server.)
 * LISTEN needs a session connection: not through PgBouncer in transaction mode.
 */
import type { HealthCheck } from '../metrics/index.js'
import type { Driver } from './driver.js'
import type { PgClientLike } from './pg-pool.js'

/** The notification channel. */
export const CHANNEL = 'hotpath_db_writes'

const FUNCTION = `CREATE OR REPLACE FUNCTION hotpath_notify_write() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('${CHANNEL}', TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME);
  RETURN NULL;
END $$`

/** Refuses what watchExternalWrites() cannot watch; returns the table names. */
export function checkWatched(backend: 'pg' | 'pglite', tables: readonly string[]): readonly string[] {
  if (backend !== 'pg')
    throw new TypeError('watchExternalWrites() needs PostgreSQL: PGlite has no other writers')
  if (!Array.isArray(tables) || tables.length === 0)
    throw new TypeError('watchExternalWrites() takes table names')
  return tables
}

/** The DDL that makes `table` (schema.table, resolved) notify on every write statement. */
export function triggerSql(table: string): string[] {
  const i = table.indexOf('.')
  const q = (s: string) => `"${s.replaceAll('"', '""')}"`
  const quoted = `${q(table.slice(0, i))}.${q(table.slice(i + 1))}`
  return [
    FUNCTION,
    `DROP TRIGGER IF EXISTS hotpath_notify_write ON ${quoted}`,
    `CREATE TRIGGER hotpath_notify_write AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON ${quoted}
      FOR EACH STATEMENT EXECUTE FUNCTION hotpath_notify_write()`,
  ]
}

/** A client that can LISTEN (any node-postgres client). */
export interface ListeningClient extends PgClientLike {
  on(event: 'notification', listener: (msg: { channel: string; payload?: string }) => void): unknown
}

/** Listens on `client`; calls `onWrite(table)` per notification. Returns a stop function. */
export async function listen(
  client: ListeningClient,
  onWrite: (table: string) => void,
): Promise<() => Promise<void>> {
  client.on('notification', (msg) => {
    if (msg.channel === CHANNEL && typeof msg.payload === 'string' && msg.payload.length > 0)
      onWrite(msg.payload)
  })
  await client.query({ text: `LISTEN ${CHANNEL}`, values: [] })
  return async () => {
    await client.query({ text: `UNLISTEN ${CHANNEL}`, values: [] }).catch(() => {})
    client.release()
  }
}

/**
 * One trivial statement: unhealthy when it fails; degraded when a caller gave up waiting for a
 * connection (E_ACQUIRE_TIMEOUT) since the previous check, or more callers wait than the pool
 * has connections; otherwise healthy. (Degraded used to need the queue longer than the pool at
 * the moment of the check, so callers failing with acquire timeouts between checks read healthy.)
 */
export function poolHealthCheck(name: string, driver: Driver): HealthCheck {
  let seenTimeouts = driver.stats().acquireTimeouts
  return {
    name,
    check: async (signal) => {
      await driver.run('SELECT 1', [], signal)
      const p = driver.stats()
      const timedOut = p.acquireTimeouts - seenTimeouts
      seenTimeouts = p.acquireTimeouts
      const details = {
        backend: p.backend,
        total: p.total,
        idle: p.idle,
        waiting: p.waiting,
        max: p.max,
        acquireTimeoutsSinceLastCheck: timedOut,
      }
      return { status: timedOut > 0 || p.waiting > p.max ? 'degraded' : 'healthy', details }
    },
  }
}
