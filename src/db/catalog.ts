/**
 * Turns relation names from the parse tree into the base tables they stand for, with the
 * server's own catalog: `to_regclass` applies the search_path, and a view is expanded through
 * pg_rewrite and pg_depend (recursively, so views of views end at tables), the technique PGlite's
 * live extension uses. A table also stands for every table it inherits from (a partition for its
 * parents, a child of INHERITS for its parents), so a write to a child invalidates reads of the
 * parent and a write through the parent reads of the child (regression: only a partition's root
 * was added, so with INHERITS either way left cached reads stale). Results are cached per name until DDL runs (`clear()`). A name
 * that resolves to nothing is not cached, and unless it is one of the statement's CTE names the
 * resolution is incomplete: the relation does not exist yet (it may be created outside the
 * client, by a migration) or is a temporary table of another session (regression: the empty
 * answer was cached, so once the table existed its reads were cached under '*' alone and no
 * write to it ever invalidated them).
 */
import type { RelName } from './analyze.js'

/** Runs one catalog query. */
export type CatalogQuery = (
  text: string,
  params: unknown[],
) => Promise<{ rows: Array<Record<string, unknown>> }>

// every table `c` inherits from, to the top: partitions' parents and INHERITS parents alike (a
// read of a parent reads its children's rows, and a write through it may change them)
const ANCESTORS = `ARRAY(WITH RECURSIVE up(oid) AS (
    SELECT inhparent FROM pg_inherits WHERE inhrelid = c.oid
    UNION
    SELECT i.inhparent FROM up JOIN pg_inherits i ON i.inhrelid = up.oid
  ) SELECT rn.nspname || '.' || rc.relname FROM up JOIN pg_class rc ON rc.oid = up.oid
    JOIN pg_namespace rn ON rn.oid = rc.relnamespace) AS ancestors`

const RESOLVE = `WITH RECURSIVE deps(oid) AS (
  SELECT to_regclass($1)::oid WHERE to_regclass($1) IS NOT NULL
  UNION
  SELECT d.refobjid FROM deps
    JOIN pg_rewrite r ON r.ev_class = deps.oid
    JOIN pg_depend d ON d.objid = r.oid AND d.classid = 'pg_rewrite'::regclass
      AND d.refclassid = 'pg_class'::regclass AND d.refobjid <> deps.oid
)
SELECT n.nspname AS schema, c.relname AS name, c.relkind AS kind,
${ANCESTORS}
FROM deps JOIN pg_class c ON c.oid = deps.oid JOIN pg_namespace n ON n.oid = c.relnamespace`

const TABLE_KINDS = new Set(['r', 'p', 'f', 'm'])

// the tables a write to $1 may change through foreign keys with ON DELETE / ON UPDATE CASCADE,
// SET NULL or SET DEFAULT, followed to any depth ($1 itself included)
const CASCADES = `WITH RECURSIVE refs(oid) AS (
  SELECT to_regclass($1)::oid WHERE to_regclass($1) IS NOT NULL
  UNION
  SELECT k.conrelid FROM refs JOIN pg_constraint k ON k.confrelid = refs.oid AND k.contype = 'f'
    AND (k.confdeltype IN ('c', 'n', 'd') OR k.confupdtype IN ('c', 'n', 'd'))
)
SELECT n.nspname AS schema, c.relname AS name,
${ANCESTORS}
FROM refs JOIN pg_class c ON c.oid = refs.oid JOIN pg_namespace n ON n.oid = c.relnamespace`

/** The ancestors column of a catalog row (a text[]). */
function ancestors(row: Record<string, unknown>): string[] {
  const a = row.ancestors
  return Array.isArray(a) ? a.map(String) : []
}

/** Quotes a name for to_regclass (which parses its argument like SQL text). */
function regclassText(r: RelName): string {
  const q = (s: string) => `"${s.replaceAll('"', '""')}"`
  return r.schema === undefined ? q(r.name) : `${q(r.schema)}.${q(r.name)}`
}

/** Resolves relation names to base-table names (`schema.table`), cached. */
export class Catalog {
  private readonly cache = new Map<string, readonly string[]>()
  private readonly cascades = new Map<string, readonly string[]>()

  /**
   * The base tables behind `rels`, deduplicated and sorted, and whether every name resolved
   * (unqualified names in `ctes` may resolve to nothing). `run` is the connection to ask on
   * (inside a transaction, its own: PGlite's only connection is held by the transaction).
   */
  async tables(
    rels: readonly RelName[],
    run: CatalogQuery,
    ctes: readonly string[] = [],
  ): Promise<{ tables: string[]; complete: boolean }> {
    const out = new Set<string>()
    let complete = true
    for (const r of rels) {
      const found = await this.one(r, run)
      if (found === undefined) {
        if (r.schema !== undefined || !ctes.includes(r.name)) complete = false
        continue
      }
      for (const t of found) out.add(t)
    }
    return { tables: [...out].sort(), complete }
  }

  /**
   * The tables a write to `rels` changes: their base tables plus the tables whose rows their
   * foreign keys' referential actions change (regression: DELETE on a parent with ON DELETE
   * CASCADE left cached reads of the child stale).
   */
  async writeTables(
    rels: readonly RelName[],
    run: CatalogQuery,
    ctes: readonly string[] = [],
  ): Promise<{ tables: string[]; complete: boolean }> {
    const direct = await this.tables(rels, run, ctes)
    const out = new Set(direct.tables)
    for (const t of direct.tables) for (const c of await this.cascade(t, run)) out.add(c)
    return { tables: [...out].sort(), complete: direct.complete }
  }

  private async cascade(table: string, run: CatalogQuery): Promise<readonly string[]> {
    const hit = this.cascades.get(table)
    if (hit !== undefined) return hit
    const i = table.indexOf('.')
    const { rows } = await run(CASCADES, [
      regclassText({ schema: table.slice(0, i), name: table.slice(i + 1) }),
    ])
    const tables: string[] = []
    for (const row of rows) {
      tables.push(`${String(row.schema)}.${String(row.name)}`)
      tables.push(...ancestors(row))
    }
    this.cascades.set(table, tables)
    return tables
  }

  /** The base tables behind one name; undefined when it names no relation (not cached). */
  private async one(r: RelName, run: CatalogQuery): Promise<readonly string[] | undefined> {
    const key = regclassText(r)
    const hit = this.cache.get(key)
    if (hit !== undefined) return hit
    const { rows } = await run(RESOLVE, [key])
    if (rows.length === 0) return undefined
    const tables: string[] = []
    for (const row of rows) {
      if (!TABLE_KINDS.has(String(row.kind))) continue
      tables.push(`${String(row.schema)}.${String(row.name)}`)
      tables.push(...ancestors(row))
    }
    this.cache.set(key, tables)
    return tables
  }

  /** Forgets every resolution (after DDL: a view may have been redefined, a table created or dropped). */
  clear(): void {
    this.cache.clear()
    this.cascades.clear()
  }
}
