/**
 * The advisor's first pass over the workload: each statement is parsed, its writes counted per
 * table, its current plan cost taken, and the candidate indexes it suggests (candidates.ts)
 * resolved to their table, minus those an existing index already serves. What comes out is what
 * the costing and the choice (advise.ts) work on: the statements worth speeding up, the
 * candidates with their estimated size, and the writes each table takes.
 */
import type { loadParser } from '../analyze.js'
import type { Runner } from '../driver.js'
import { type Candidate, candidateId, candidatesOf, indexSql } from './candidates.js'
import { type ExistingIndex, qualify, tableInfo } from './catalog.js'
import { planCost } from './what-if.js'

/** One statement of the workload. */
export interface WorkloadEntry {
  text: string
  params?: readonly unknown[]
  /** How often it runs (weight). @default 1 */
  calls?: number
}

/** A statement worth indexing for: its weight, its current cost, the tables its candidates are on. */
export interface Stmt {
  text: string
  params: readonly unknown[]
  calls: number
  base: number
  tables: Set<string>
}

/** A candidate index on a resolved table, with its costs per statement (by index in the statements). */
export interface Cand {
  c: Candidate
  table: string
  sql: string
  costs: Map<number, number>
  size: number
}

/** What the first pass found. */
export interface ScannedWorkload {
  stmts: Stmt[]
  /** By table and candidate id. */
  cands: Map<string, Cand>
  /** Captured writes per table. */
  writes: Map<string, number>
}

/** What the first pass reads besides the workload. */
export interface ScanContext {
  parser: Awaited<ReturnType<typeof loadParser>>
  existing: readonly ExistingIndex[]
  minCost: number
  /** Rows of a table (see `tableRows`). */
  rows(table: string): Promise<number>
  /** Statements that could not be read, and why, are added here. */
  skipped: Array<{ what: string; reason: string }>
}

/** Rows of each table, read once per advice run (candidate sizes and the rollback limit both ask). */
export function tableRows(conn: Runner): (table: string) => Promise<number> {
  const cache = new Map<string, Awaited<ReturnType<typeof tableInfo>>>()
  return async (t) => {
    let i = cache.get(t)
    if (i === undefined) {
      i = await tableInfo(conn, t)
      cache.set(t, i)
    }
    return i.rows
  }
}

function quoteQualified(q: string): string {
  const i = q.indexOf('.')
  const part = (s: string) => `"${s.replaceAll('"', '""')}"`
  return `${part(q.slice(0, i))}.${part(q.slice(i + 1))}`
}

/** True when an existing index already serves the candidate (its keys start with the candidate's). */
function served(c: Candidate, table: string, existing: readonly ExistingIndex[]): boolean {
  return existing.some(
    (e) =>
      e.table === table &&
      e.method === 'btree' &&
      c.columns.every((col, i) => e.columns[i] === col && i < e.keyCount) &&
      c.include.every((col) => e.columns.includes(col)) &&
      (e.predicate === undefined || c.where !== undefined),
  )
}

/** Reads the workload: statements that cost at least `minCost`, their candidates, and the writes. */
export async function scanWorkload(
  conn: Runner,
  workload: readonly WorkloadEntry[],
  ctx: ScanContext,
): Promise<ScannedWorkload> {
  const { parser, existing, skipped } = ctx
  const stmts: Stmt[] = []
  const cands = new Map<string, Cand>()
  const writes = new Map<string, number>()
  for (const w of workload) {
    let tree: Awaited<ReturnType<typeof parser.parse>>
    try {
      tree = await parser.parse(w.text)
    } catch (err) {
      skipped.push({ what: w.text, reason: `unparsable: ${(err as Error).message}` })
      continue
    }
    const stmt = tree.stmts?.[0]?.stmt
    if (stmt === undefined) continue
    const top = Object.keys(stmt)[0]
    if (top === 'InsertStmt' || top === 'UpdateStmt' || top === 'DeleteStmt') {
      const rel = (stmt[top] as { relation?: { relname?: string; schemaname?: string } }).relation
      if (rel?.relname !== undefined) {
        const q = await qualify(conn, rel.schemaname, rel.relname)
        if (q !== undefined) writes.set(q, (writes.get(q) ?? 0) + (w.calls ?? 1))
      }
      if (top === 'InsertStmt') continue
    }
    const found = candidatesOf(stmt)
    if (found.length === 0) continue
    let base: number
    try {
      base = await planCost(conn, w.text, w.params ?? [])
    } catch (err) {
      skipped.push({ what: w.text, reason: `EXPLAIN failed: ${(err as Error).message}` })
      continue
    }
    if (!(base >= ctx.minCost)) continue
    const s: Stmt = { text: w.text, params: w.params ?? [], calls: w.calls ?? 1, base, tables: new Set() }
    stmts.push(s)
    for (const c of found) {
      const table = await qualify(conn, c.schema, c.table)
      if (table === undefined) continue
      s.tables.add(table)
      if (served(c, table, existing)) continue
      const id = `${table}|${candidateId(c)}`
      if (!cands.has(id)) {
        const rows = await ctx.rows(table)
        const width = (c.columns.length + c.include.length) * 8 + 16
        const share = c.where === undefined ? 1 : 0.05
        cands.set(id, {
          c,
          table,
          sql: indexSql(c, quoteQualified(table)),
          costs: new Map(),
          size: rows * share * width,
        })
      }
    }
  }
  return { stmts, cands, writes }
}
