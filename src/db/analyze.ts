/**
 * What a statement reads and writes, from the real PostgreSQL parser (libpg-query, WASM, loaded
 * once). This is what makes invalidation automatic for raw SQL: the parse tree names every
 * relation a statement mentions, the write targets of INSERT / UPDATE / DELETE / MERGE /
 * TRUNCATE, including data-modifying CTEs at any depth (`WITH x AS (UPDATE ...) SELECT ...`).
 * Names are resolved against the catalog later (catalog.ts), where views become base tables.
 *
 * A statement the parser cannot read, and anything that is not a plain read or a plain write
 * (DDL, COPY, CALL, DO, REFRESH MATERIALIZED VIEW...), is `other`: never cached, and running it
 * invalidates every cached read, because its effects cannot be seen from its text.
 */

/** A relation name as written in the statement. */
export interface RelName {
  readonly schema: string | undefined
  readonly name: string
}

/** The parser's verdict on one statement text. */
export interface Analysis {
  /** read: SELECT/VALUES/TABLE with no data-modifying CTE; write: DML; tx: BEGIN/COMMIT...; other: anything else. */
  readonly kind: 'read' | 'write' | 'tx' | 'other'
  /** Relations the statement mentions (reads; CTE names are dropped at catalog resolution). */
  readonly reads: readonly RelName[]
  /** Relations it writes. */
  readonly writes: readonly RelName[]
  /** Why a read may not be cached (locking clause, SELECT INTO, parse error); undefined when it may. */
  readonly uncacheable: string | undefined
  /** The normalized fingerprint (constants stripped) for statement statistics. */
  readonly fingerprint: string
  /** The parser could not read the text (the server may still run it). */
  readonly unparsed: boolean
  /** Every statement is SAVEPOINT, RELEASE or ROLLBACK TO (what a transaction callback may send). */
  readonly savepoint: boolean
  /** Names of the statement's CTEs (an unqualified relation so named may resolve to no table). */
  readonly ctes: readonly string[]
  /**
   * One SELECT, VALUES, INSERT, UPDATE, DELETE or MERGE: a statement the pg driver may run as a
   * named prepared statement (a text of several statements cannot be, and utility statements
   * gain nothing from it).
   */
  readonly preparable: boolean
}

interface Parser {
  parse(q: string): Promise<{ stmts: Array<{ stmt: Record<string, unknown> }> }>
  fingerprint(q: string): Promise<string>
}

let parser: Promise<Parser> | undefined

/** Loads libpg-query once (an optional peer dependency: only needed by hotpath/db). */
export function loadParser(): Promise<Parser> {
  parser ??= import('libpg-query').then(
    async (m) => {
      await m.loadModule()
      return { parse: m.parse as Parser['parse'], fingerprint: m.fingerprint }
    },
    (err: unknown) => {
      parser = undefined
      throw new Error(
        'hotpath/db needs the optional peer dependency "libpg-query" to see which tables a statement touches: npm install libpg-query',
        { cause: err },
      )
    },
  )
  return parser
}

const DML = new Set(['InsertStmt', 'UpdateStmt', 'DeleteStmt', 'MergeStmt'])
const READS = new Set(['SelectStmt'])
/** Statements that change no data: they run uncached and invalidate nothing. */
const HARMLESS = new Set(['VariableSetStmt', 'VariableShowStmt', 'ExplainStmt'])
const SAVEPOINTS = new Set(['TRANS_STMT_SAVEPOINT', 'TRANS_STMT_RELEASE', 'TRANS_STMT_ROLLBACK_TO'])

function relName(node: unknown): RelName | undefined {
  if (node === null || typeof node !== 'object') return undefined
  const r = node as { schemaname?: unknown; relname?: unknown }
  if (typeof r.relname !== 'string') return undefined
  return { schema: typeof r.schemaname === 'string' ? r.schemaname : undefined, name: r.relname }
}

interface Walk {
  reads: RelName[]
  writes: RelName[]
  dml: boolean
  locking: boolean
  into: boolean
  ctes: string[]
  /** Something whose effects the tables named cannot describe (TRUNCATE ... CASCADE). */
  other: boolean
}

/** Visits every node of the tree once, collecting relations, write targets and read-spoilers. */
function walk(node: unknown, w: Walk): void {
  if (Array.isArray(node)) {
    for (const n of node) walk(n, w)
    return
  }
  if (node === null || typeof node !== 'object') return
  for (const [key, value] of Object.entries(node as Record<string, unknown>)) {
    if (key === 'RangeVar') {
      const r = relName(value)
      if (r !== undefined) w.reads.push(r)
      continue
    }
    if (DML.has(key)) {
      w.dml = true
      const target = relName((value as { relation?: unknown }).relation)
      if (target !== undefined) w.writes.push(target)
    } else if (key === 'TruncateStmt') {
      // TRUNCATE ... CASCADE empties every table that references these, whatever its actions
      if ((value as { behavior?: unknown }).behavior === 'DROP_CASCADE') w.other = true
      w.dml = true
      for (const r of ((value as { relations?: unknown[] }).relations ?? []) as Array<{
        RangeVar?: unknown
      }>) {
        const t = relName(r.RangeVar)
        if (t !== undefined) w.writes.push(t)
      }
    } else if (key === 'lockingClause') {
      w.locking = true
    } else if (key === 'intoClause') {
      w.into = true
    } else if (key === 'CommonTableExpr') {
      const name = (value as { ctename?: unknown }).ctename
      if (typeof name === 'string') w.ctes.push(name)
    }
    if (value !== null && typeof value === 'object') walk(value, w)
  }
}

/** Classifies a parsed statement list. Exported for unit tests that feed it parse trees. */
export function classify(stmts: Array<{ stmt: Record<string, unknown> }>, fingerprint: string): Analysis {
  const w: Walk = { reads: [], writes: [], dml: false, locking: false, into: false, ctes: [], other: false }
  let kind: Analysis['kind'] | undefined
  let harmless = false
  for (const { stmt } of stmts) {
    const top = Object.keys(stmt)[0] ?? ''
    let k: Analysis['kind']
    if (top === 'TransactionStmt') k = 'tx'
    else if (top === 'ExplainStmt' && explainsAnalyze(stmt.ExplainStmt)) k = 'read'
    else if (top === 'VariableSetStmt' && changesNames(stmt.VariableSetStmt)) k = 'other'
    else if (HARMLESS.has(top)) {
      harmless = true
      kind = kind === undefined || kind === 'read' ? 'read' : kind
      continue
    } else if (READS.has(top) || DML.has(top) || top === 'TruncateStmt') k = 'read'
    else k = 'other'
    walk(stmt, w)
    if (k === 'read' && w.dml) k = 'write'
    if (k === 'read' && w.into) k = 'other'
    if (w.other && k !== 'tx') k = 'other'
    kind = kind === undefined || kind === k ? k : kind === 'tx' || k === 'tx' ? 'tx' : combine(kind, k)
  }
  const final = kind ?? 'other'
  const savepoint =
    stmts.length > 0 &&
    stmts.every(({ stmt }) => SAVEPOINTS.has(String((stmt.TransactionStmt as { kind?: unknown })?.kind)))
  let uncacheable: string | undefined
  if (final !== 'read') uncacheable = `it is not a plain read (${final})`
  else if (stmts.length !== 1) uncacheable = 'it holds several statements'
  else if (harmless) uncacheable = 'it is a utility statement (SET, SHOW, EXPLAIN)'
  else if (w.locking) uncacheable = 'it takes row locks (FOR UPDATE / FOR SHARE)'
  const top = stmts.length === 1 ? (Object.keys((stmts[0] as { stmt: object }).stmt)[0] ?? '') : ''
  return {
    kind: final,
    reads: w.reads,
    writes: w.writes,
    uncacheable,
    fingerprint,
    unparsed: false,
    savepoint,
    ctes: w.ctes,
    preparable: (final === 'read' || final === 'write') && (READS.has(top) || DML.has(top)),
  }
}

/**
 * The settings that change what an unqualified name resolves to: the search_path, and the role
 * (its `$user` schema), or all of them at once (RESET ALL). Such a SET is `other`: the client's
 * resolved names are dropped after it, and inside a transaction names are no longer resolved
 * for the client (regression: a name resolved after `SET LOCAL search_path` inside a
 * transaction was kept for the client, and one resolved before was used inside it, so writes
 * invalidated the wrong schema's table).
 */
const NAME_SETTINGS = new Set(['search_path', 'role', 'session_authorization'])

function changesNames(node: unknown): boolean {
  const v = node as { kind?: unknown; name?: unknown }
  return v.kind === 'VAR_RESET_ALL' || (typeof v.name === 'string' && NAME_SETTINGS.has(v.name.toLowerCase()))
}

// EXPLAIN ANALYZE runs the statement, so a DML inside it really writes; plain EXPLAIN does not.
function explainsAnalyze(node: unknown): boolean {
  const opts = (node as { options?: Array<{ DefElem?: { defname?: string; arg?: unknown } }> }).options ?? []
  return opts.some((o) => {
    if (o.DefElem?.defname !== 'analyze') return false
    const arg = o.DefElem.arg as { Boolean?: { boolval?: boolean }; String?: { sval?: string } } | undefined
    if (arg === undefined) return true
    if (arg.Boolean !== undefined) return arg.Boolean.boolval === true
    return arg.String?.sval !== 'false' && arg.String?.sval !== 'off'
  })
}

function combine(a: Analysis['kind'], b: Analysis['kind']): Analysis['kind'] {
  if (a === 'other' || b === 'other') return 'other'
  return 'write'
}

/** The verdict for a statement the parser rejected: it may still do anything on the server. */
export function unreadable(reason: string): Analysis {
  return {
    kind: 'other',
    reads: [],
    writes: [],
    uncacheable: `the PostgreSQL parser could not read it (${reason})`,
    fingerprint: '',
    unparsed: true,
    savepoint: false,
    ctes: [],
    preparable: false,
  }
}

/** Parses and classifies one statement text. Never throws: an unreadable text is `other`. */
export async function analyze(text: string): Promise<Analysis> {
  const p = await loadParser()
  try {
    const tree = await p.parse(text)
    let fp = ''
    try {
      fp = await p.fingerprint(text)
    } catch {
      // a statement can parse and still defeat the fingerprinter; stats then key on the text
    }
    return classify(tree.stmts ?? [], fp)
  } catch (err) {
    return unreadable(err instanceof Error ? err.message : String(err))
  }
}
