/**
 * Index candidates from a statement's parse tree, per table:
 * - single column: every column compared with a constant or parameter (=, IN, ANY, <, >, BETWEEN,
 *   LIKE 'prefix%'), every join column, every ORDER BY column;
 * - multi-column, in the order a btree can use: equality columns, then one range column, then
 *   the ORDER BY columns (at most three key columns);
 * - partial: a column compared with a literal (`status = 'open'`) becomes the index's WHERE, the
 *   query's other columns its keys;
 * - covering: the best key columns plus the other selected columns as INCLUDE, so the query can
 *   be answered by an index-only scan.
 * `LIKE '%x%'`, OR-ed predicates and expressions on columns give no btree candidate.
 */

/** One proposed index. */
export interface Candidate {
  /** Table as written in the query (resolved by the advisor). */
  table: string
  schema: string | undefined
  columns: string[]
  include: string[]
  /** A partial index's predicate (SQL text), or undefined. */
  where: string | undefined
  kind: 'single' | 'multi' | 'partial' | 'covering'
}

interface TableUse {
  schema: string | undefined
  name: string
  eq: string[]
  range: string[]
  sort: string[]
  selected: string[]
  /** column = literal, as SQL text, for partial indexes. */
  constants: Array<{ column: string; sql: string }>
  star: boolean
}

type Node = Record<string, unknown>

const RANGE_OPS = new Set(['<', '>', '<=', '>='])

function str(n: unknown): string | undefined {
  const s = (n as { String?: { sval?: string } } | undefined)?.String?.sval
  return typeof s === 'string' ? s : undefined
}

function colRef(n: unknown): { alias: string | undefined; column: string } | undefined {
  let node = n as Node | undefined
  while (node?.TypeCast !== undefined) node = (node.TypeCast as { arg?: Node }).arg
  const ref = node?.ColumnRef as { fields?: unknown[] } | undefined
  if (ref?.fields === undefined) return undefined
  const parts = ref.fields.map(str)
  if (parts.some((p) => p === undefined)) return undefined
  if (parts.length === 1) return { alias: undefined, column: parts[0] as string }
  return { alias: parts[parts.length - 2], column: parts[parts.length - 1] as string }
}

function isValue(n: unknown): boolean {
  let node = n as Node | undefined
  while (node?.TypeCast !== undefined) node = (node.TypeCast as { arg?: Node }).arg
  return node?.A_Const !== undefined || node?.ParamRef !== undefined || node?.A_ArrayExpr !== undefined
}

/** The literal's SQL text (for a partial index's WHERE), or undefined for parameters. */
function literal(n: unknown): string | undefined {
  let node = n as Node | undefined
  while (node?.TypeCast !== undefined) node = (node.TypeCast as { arg?: Node }).arg
  const c = node?.A_Const as Record<string, Record<string, unknown>> | undefined
  if (c === undefined) return undefined
  if (c.sval !== undefined) return `'${String(c.sval.sval).replaceAll("'", "''")}'`
  if (c.boolval !== undefined) return c.boolval.boolval === true ? 'true' : 'false'
  if (c.ival !== undefined) return String(c.ival.ival ?? 0)
  return undefined
}

function quoteIdent(s: string): string {
  return /^[a-z_][a-z0-9_]*$/.test(s) ? s : `"${s.replaceAll('"', '""')}"`
}

/** Collects the tables of a FROM clause (with aliases). */
function fromTables(from: unknown[] | undefined, out: Map<string, TableUse>): void {
  for (const item of from ?? []) {
    const n = item as Node
    if (n.RangeVar !== undefined) {
      const rv = n.RangeVar as { relname: string; schemaname?: string; alias?: { aliasname?: string } }
      const use: TableUse = {
        schema: rv.schemaname,
        name: rv.relname,
        eq: [],
        range: [],
        sort: [],
        selected: [],
        constants: [],
        star: false,
      }
      out.set(rv.alias?.aliasname ?? rv.relname, use)
    } else if (n.JoinExpr !== undefined) {
      const j = n.JoinExpr as { larg?: unknown; rarg?: unknown }
      fromTables([j.larg, j.rarg], out)
    }
  }
}

function tableFor(
  ref: { alias: string | undefined; column: string },
  tables: Map<string, TableUse>,
): TableUse | undefined {
  if (ref.alias !== undefined) return tables.get(ref.alias)
  return tables.size === 1 ? tables.values().next().value : undefined
}

function push(list: string[], v: string): void {
  if (!list.includes(v)) list.push(v)
}

/** Walks a WHERE / ON expression, recording indexable predicates. */
function predicates(expr: unknown, tables: Map<string, TableUse>): void {
  const n = expr as Node | undefined
  if (n === undefined || n === null) return
  if (n.BoolExpr !== undefined) {
    const b = n.BoolExpr as { boolop: string; args?: unknown[] }
    // only AND-ed predicates can all be served by one btree
    if (b.boolop === 'AND_EXPR') for (const a of b.args ?? []) predicates(a, tables)
    return
  }
  if (n.NullTest !== undefined) return
  const e = n.A_Expr as { kind: string; name?: unknown[]; lexpr?: unknown; rexpr?: unknown } | undefined
  if (e === undefined) return
  const op = str(e.name?.[0])
  const left = colRef(e.lexpr)
  const right = colRef(e.rexpr)
  if (e.kind === 'AEXPR_OP' && op === '=' && left !== undefined && right !== undefined) {
    // a join: each side may use an index on its column
    const lt = tableFor(left, tables)
    const rt = tableFor(right, tables)
    if (lt !== undefined) push(lt.eq, left.column)
    if (rt !== undefined) push(rt.eq, right.column)
    return
  }
  const col = left ?? right
  const other = left !== undefined ? e.rexpr : e.lexpr
  if (col === undefined) return
  const t = tableFor(col, tables)
  if (t === undefined) return
  if (e.kind === 'AEXPR_OP' && op === '=' && isValue(other)) {
    push(t.eq, col.column)
    const lit = literal(other)
    if (lit !== undefined) t.constants.push({ column: col.column, sql: `${quoteIdent(col.column)} = ${lit}` })
  } else if (e.kind === 'AEXPR_OP_ANY' && op === '=') {
    push(t.eq, col.column)
  } else if (e.kind === 'AEXPR_IN' && op === '=') {
    push(t.eq, col.column)
  } else if (e.kind === 'AEXPR_OP' && op !== undefined && RANGE_OPS.has(op) && isValue(other)) {
    push(t.range, col.column)
  } else if (e.kind === 'AEXPR_BETWEEN') {
    push(t.range, col.column)
  } else if (e.kind === 'AEXPR_LIKE' && op === '~~') {
    const lit = literal(other)
    // only a pattern with a fixed prefix can use a btree ('abc%'); '%abc%' cannot
    if (lit !== undefined && !lit.startsWith("'%") && !lit.startsWith("'_")) push(t.range, col.column)
  }
}

/** Candidates for one SELECT / UPDATE / DELETE statement (its first statement only). */
export function candidatesOf(stmt: Node): Candidate[] {
  const top = Object.keys(stmt)[0] ?? ''
  const body = stmt[top] as Node
  const tables = new Map<string, TableUse>()
  if (top === 'SelectStmt') fromTables(body.fromClause as unknown[] | undefined, tables)
  else if (top === 'UpdateStmt' || top === 'DeleteStmt') {
    fromTables([{ RangeVar: body.relation }], tables)
  } else return []
  if (tables.size === 0) return []
  predicates(body.whereClause, tables)
  for (const item of (body.fromClause as unknown[] | undefined) ?? []) {
    const j = (item as Node).JoinExpr as { quals?: unknown } | undefined
    if (j !== undefined) predicates(j.quals, tables)
  }
  for (const s of (body.sortClause as Array<{ SortBy?: { node?: unknown } }> | undefined) ?? []) {
    const ref = colRef(s.SortBy?.node)
    const t = ref === undefined ? undefined : tableFor(ref, tables)
    if (ref !== undefined && t !== undefined) push(t.sort, ref.column)
  }
  for (const r of (body.targetList as Array<{ ResTarget?: { val?: Node } }> | undefined) ?? []) {
    const val = r.ResTarget?.val
    const fields = (val?.ColumnRef as { fields?: Array<Record<string, unknown>> } | undefined)?.fields
    if (fields?.some((f) => f.A_Star !== undefined)) {
      for (const t of tables.values()) t.star = true
      continue
    }
    const ref = colRef(val)
    const t = ref === undefined ? undefined : tableFor(ref, tables)
    if (ref !== undefined && t !== undefined) push(t.selected, ref.column)
  }
  const out: Candidate[] = []
  for (const t of tables.values()) out.push(...forTable(t))
  return out
}

function forTable(t: TableUse): Candidate[] {
  const out: Candidate[] = []
  const base = { table: t.name, schema: t.schema, include: [] as string[], where: undefined }
  for (const c of [...t.eq, ...t.range, ...t.sort]) out.push({ ...base, columns: [c], kind: 'single' })
  // equality, then one range column, then the sort columns: the order a btree can use all of
  const ordered = [...t.eq]
  const range = t.range.find((c) => !ordered.includes(c))
  if (range !== undefined) ordered.push(range)
  else for (const s of t.sort) if (!ordered.includes(s)) ordered.push(s)
  const multi = ordered.slice(0, 3)
  if (multi.length >= 2) {
    out.push({ ...base, columns: multi, kind: 'multi' })
    if (multi.length === 3) out.push({ ...base, columns: multi.slice(0, 2), kind: 'multi' })
  }
  for (const k of t.constants) {
    const keys = multi.filter((c) => c !== k.column)
    if (keys.length === 0) continue
    out.push({ ...base, columns: keys.slice(0, 2), where: k.sql, kind: 'partial' })
  }
  if (!t.star && t.selected.length > 0) {
    const key = multi.length > 0 ? multi : [...t.eq, ...t.range].slice(0, 1)
    const include = t.selected.filter((c) => !key.includes(c))
    if (key.length > 0 && include.length > 0 && include.length <= 3) {
      out.push({ ...base, columns: key, include, kind: 'covering' })
      if (key.length > 1) out.push({ ...base, columns: key.slice(0, 1), include, kind: 'covering' })
    }
  }
  return dedupe(out)
}

/** The CREATE INDEX text of a candidate on a resolved `schema.table`. */
export function indexSql(c: Candidate, qualified: string, concurrently = false): string {
  const cols = c.columns.map(quoteIdent).join(', ')
  const inc = c.include.length > 0 ? ` INCLUDE (${c.include.map(quoteIdent).join(', ')})` : ''
  const where = c.where === undefined ? '' : ` WHERE ${c.where}`
  return `CREATE INDEX${concurrently ? ' CONCURRENTLY' : ''} ON ${qualified} (${cols})${inc}${where}`
}

/** A stable identity for a candidate (same table, keys, include and predicate). */
export function candidateId(c: Candidate): string {
  return `${c.schema ?? ''}.${c.table}(${c.columns.join(',')})[${c.include.join(',')}]{${c.where ?? ''}}`
}

function dedupe(list: Candidate[]): Candidate[] {
  const seen = new Set<string>()
  return list.filter((c) => {
    const id = candidateId(c)
    if (seen.has(id)) return false
    seen.add(id)
    return true
  })
}
