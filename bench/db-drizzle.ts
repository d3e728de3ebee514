/**
 * drizzle-orm's query cache under the staleness harness (bench/db-staleness.ts): two drizzle
 * instances, each on its own pg pool, sharing one custom `Cache` (a Map standing in for a shared
 * Redis, with drizzle's documented table-based invalidation in `onMutate`). Reads go through the
 * query builder with `$withCache()`; plain updates and transactions use the builder (drizzle's
 * best case); the CTE and the write through the view are raw `db.execute` (drizzle's docs: raw
 * SQL is not invalidated).
 */
import { eq, getTableName, isTable, sql, type Table } from 'drizzle-orm'
import { Cache, type MutationOption } from 'drizzle-orm/cache/core'
import { drizzle } from 'drizzle-orm/node-postgres'
import { integer, pgTable, pgView } from 'drizzle-orm/pg-core'
import pg from 'pg'
import type { StaleTarget } from './db-staleness.js'

const kv = pgTable('kv', { id: integer('id').primaryKey(), v: integer('v').notNull() })
const kvView = pgView('kv_view', { id: integer('id'), v: integer('v') }).existing()

/** A shared store: key -> rows, table -> keys. */
export class SharedStore {
  readonly values = new Map<string, unknown[]>()
  readonly byTable = new Map<string, Set<string>>()
}

class SharedCache extends Cache {
  constructor(private readonly store: SharedStore) {
    super()
  }
  strategy(): 'explicit' | 'all' {
    return 'explicit'
  }
  async get(key: string): Promise<unknown[] | undefined> {
    return this.store.values.get(key)
  }
  async put(key: string, response: unknown, tables: string[]): Promise<void> {
    this.store.values.set(key, response as unknown[])
    for (const t of tables) {
      let s = this.store.byTable.get(t)
      if (s === undefined) {
        s = new Set()
        this.store.byTable.set(t, s)
      }
      s.add(key)
    }
  }
  async onMutate(params: MutationOption): Promise<void> {
    const raw =
      params.tables === undefined ? [] : Array.isArray(params.tables) ? params.tables : [params.tables]
    for (const t of raw as Array<string | Table>) {
      const name = typeof t === 'string' ? t : isTable(t) ? getTableName(t) : String(t)
      for (const key of this.store.byTable.get(name) ?? []) this.store.values.delete(key)
      this.store.byTable.delete(name)
    }
  }
}

/** One drizzle instance on `url` sharing `store`; `close` ends its pool. */
export function drizzleTarget(
  url: string,
  store: SharedStore,
): { target: StaleTarget; close: () => Promise<void> } {
  const pool = new pg.Pool({ connectionString: url, max: 4 })
  const db = drizzle({ client: pool, cache: new SharedCache(store) })
  const target: StaleTarget = {
    readTable: async (id) => (await db.select({ v: kv.v }).from(kv).where(eq(kv.id, id)).$withCache())[0]?.v,
    readView: async (id) =>
      (await db.select({ v: kvView.v }).from(kvView).where(eq(kvView.id, id)).$withCache())[0]?.v ??
      undefined,
    update: async (id, v) => void (await db.update(kv).set({ v }).where(eq(kv.id, id))),
    updateCte: async (id, v) =>
      void (await db.execute(
        sql`WITH u AS (UPDATE kv SET v = ${v} WHERE id = ${id} RETURNING id) SELECT count(*) FROM u`,
      )),
    updateView: async (id, v) => void (await db.execute(sql`UPDATE kv_view SET v = ${v} WHERE id = ${id}`)),
    txCommit: (a, b) =>
      db.transaction(async (tx) => {
        await tx.update(kv).set({ v: a[1] }).where(eq(kv.id, a[0]))
        await tx.update(kv).set({ v: b[1] }).where(eq(kv.id, b[0]))
      }),
    txRollback: (id, v) =>
      db.transaction(async (tx) => {
        await tx.update(kv).set({ v }).where(eq(kv.id, id))
        throw new Error('roll back')
      }),
  }
  return { target, close: () => pool.end() }
}
