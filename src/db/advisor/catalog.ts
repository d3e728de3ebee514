/**
 * What the advisor reads from the catalog: existing indexes (to skip candidates they already
 * serve and to report unused and duplicate ones), table sizes and write counts.
 */
import type { Runner } from '../driver.js'

/** An existing index. */
export interface ExistingIndex {
  table: string
  name: string
  columns: string[]
  keyCount: number
  predicate: string | undefined
  unique: boolean
  primary: boolean
  method: string
  scans: number
  bytes: number
}

/** A table's size and write figures (pg_stat_user_tables). */
export interface TableInfo {
  rows: number
  writes: number
  scans: number
}

const INDEXES = `SELECT n.nspname || '.' || t.relname AS tbl, i.relname AS idx, ix.indisunique AS uniq,
  ix.indisprimary AS prim, ix.indnkeyatts AS nkeys, pg_get_expr(ix.indpred, ix.indrelid) AS pred,
  am.amname AS method, coalesce(s.idx_scan, 0)::float8 AS scans, pg_relation_size(i.oid)::float8 AS bytes,
  (SELECT string_agg(a.attname, ',' ORDER BY k.ord) FROM unnest(ix.indkey) WITH ORDINALITY k(attnum, ord)
    JOIN pg_attribute a ON a.attrelid = ix.indrelid AND a.attnum = k.attnum) AS cols
FROM pg_index ix JOIN pg_class t ON t.oid = ix.indrelid JOIN pg_class i ON i.oid = ix.indexrelid
JOIN pg_namespace n ON n.oid = t.relnamespace JOIN pg_am am ON am.oid = i.relam
LEFT JOIN pg_stat_user_indexes s ON s.indexrelid = ix.indexrelid
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'`

/** Every index of the user's schemas. */
export async function existingIndexes(conn: Runner): Promise<ExistingIndex[]> {
  const { rows } = await conn.run(INDEXES, [], undefined)
  return rows.map((r) => {
    const columns = String(r.cols ?? '')
      .split(',')
      .filter((c) => c.length > 0)
    return {
      table: String(r.tbl),
      name: String(r.idx),
      columns,
      keyCount: Number(r.nkeys),
      predicate: r.pred === null || r.pred === undefined ? undefined : String(r.pred),
      unique: r.uniq === true,
      primary: r.prim === true,
      method: String(r.method),
      scans: Number(r.scans),
      bytes: Number(r.bytes),
    }
  })
}

/** Rows and write counts of `qualified` (schema.table). */
export async function tableInfo(conn: Runner, qualified: string): Promise<TableInfo> {
  const { rows } = await conn.run(
    `SELECT greatest(c.reltuples, 0)::float8 AS rows,
      coalesce(s.n_tup_ins + s.n_tup_upd + s.n_tup_del, 0)::float8 AS writes,
      coalesce(s.seq_scan + coalesce(s.idx_scan, 0), 0)::float8 AS scans
     FROM pg_class c LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid WHERE c.oid = to_regclass($1)`,
    [qualified],
    undefined,
  )
  const r = rows[0] ?? {}
  return { rows: Number(r.rows ?? 0), writes: Number(r.writes ?? 0), scans: Number(r.scans ?? 0) }
}

/** Resolves a table name as written to schema.table (undefined for views and unknown names). */
export async function qualify(
  conn: Runner,
  schema: string | undefined,
  name: string,
): Promise<string | undefined> {
  const q = (s: string) => `"${s.replaceAll('"', '""')}"`
  const { rows } = await conn.run(
    `SELECT n.nspname || '.' || c.relname AS q FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.oid = to_regclass($1) AND c.relkind IN ('r', 'p', 'm')`,
    [schema === undefined ? q(name) : `${q(schema)}.${q(name)}`],
    undefined,
  )
  return rows[0]?.q === undefined ? undefined : String(rows[0].q)
}
