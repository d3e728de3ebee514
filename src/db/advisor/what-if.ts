/**
 * The advisor's what-if costing: the planner's cost of a statement (EXPLAIN, never run), and of
 * statements with a candidate index present. With HypoPG the index is hypothetical (nothing is
 * built); without it, a real index is built inside a transaction that is rolled back, with a
 * lock timeout on PostgreSQL so the build never queues behind (or in front of) a table's writers.
 */
import type { Driver, Runner } from '../driver.js'

/** The planner's total cost of `text` with `params`. */
export async function planCost(conn: Runner, text: string, params: readonly unknown[]): Promise<number> {
  const { rows } = await conn.run(`EXPLAIN (FORMAT JSON) ${text}`, params, undefined)
  const raw = rows[0]?.['QUERY PLAN'] ?? Object.values(rows[0] ?? {})[0]
  const plan = (typeof raw === 'string' ? JSON.parse(raw) : raw) as Array<{ Plan: { 'Total Cost': number } }>
  return Number(plan[0]?.Plan['Total Cost'])
}

/** The schema HypoPG's functions live in (quoted), or undefined when it is not installed. */
async function hypoSchema(conn: Runner): Promise<string | undefined> {
  const { rows } = await conn.run(
    "SELECT n.nspname AS s FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'hypopg'",
    [],
    undefined,
  )
  const s = rows[0]?.s
  return typeof s === 'string' ? `"${s.replaceAll('"', '""')}"` : undefined
}

/**
 * HypoPG's schema when it is (or can be made) available and `mode` allows it; undefined means the
 * rolled-back real index. Throws when `mode` is 'hypopg' and the server has none.
 */
export async function hasHypoPG(
  conn: Runner,
  mode: 'auto' | 'hypopg' | 'rollback' | undefined,
): Promise<string | undefined> {
  if (mode === 'rollback') return undefined
  const installed = await hypoSchema(conn)
  if (installed !== undefined) return installed
  const available = await conn
    .run("SELECT 1 FROM pg_available_extensions WHERE name = 'hypopg'", [], undefined)
    .catch(() => ({ rows: [] }))
  if (available.rows.length > 0) {
    // in public, not in whatever schema the search_path names first
    const ok = await conn.run('CREATE EXTENSION IF NOT EXISTS hypopg SCHEMA public', [], undefined).then(
      () => true,
      () => false,
    )
    if (ok) return hypoSchema(conn)
  }
  if (mode === 'hypopg')
    throw new Error('whatIf: "hypopg" but the server has no HypoPG (Debian: postgresql-15-hypopg)')
  return undefined
}

/** How candidate indexes are made present: HypoPG's schema, or undefined for a rolled-back real index. */
export interface WhatIf {
  hypo: string | undefined
  backend: Driver['backend']
}

/**
 * Costs each of `targets` (a statement and its index in the workload) with the index `sql`
 * present, and records each cost in `costs` as it is taken: when a later statement fails, the
 * costs already taken stay.
 */
export async function costWithIndex(
  conn: Runner,
  how: WhatIf,
  sql: string,
  targets: ReadonlyArray<readonly [{ text: string; params: readonly unknown[] }, number]>,
  costs: Map<number, number>,
): Promise<void> {
  if (how.hypo !== undefined) {
    await conn.run(`SELECT * FROM ${how.hypo}.hypopg_create_index($1)`, [sql], undefined)
    try {
      for (const [s, i] of targets) costs.set(i, await planCost(conn, s.text, s.params))
    } finally {
      await conn.run(`SELECT ${how.hypo}.hypopg_reset()`, [], undefined)
    }
    return
  }
  await conn.run('BEGIN', [], undefined)
  try {
    if (how.backend === 'pg') await conn.run("SET LOCAL lock_timeout = '2s'", [], undefined)
    await conn.run(sql, [], undefined)
    for (const [s, i] of targets) costs.set(i, await planCost(conn, s.text, s.params))
  } finally {
    await conn.run('ROLLBACK', [], undefined)
  }
}
