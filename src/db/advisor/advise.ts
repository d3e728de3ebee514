/**
 * The index advisor. From a workload (statements with sample parameters and call counts: the
 * client's captured workload by default), it proposes candidates per statement (candidates.ts),
 * costs every statement on the candidate's table with the planner, with the candidate present,
 * and picks indexes greedily across the whole workload under a budget:
 *   benefit(c) = Σ calls × (current cost − cost with c), counting a statement only when c cuts its
 *   cost by at least `minImprovement`; minus a write cost: writes to the table × `writeCost`.
 * Near-ties (within 5%) go to the smaller index (a partial index over a covering or wider one).
 * What-if costing uses HypoPG when the server has it (hypothetical indexes, no build), otherwise
 * a real index built inside a transaction that is rolled back: cheap on PGlite (local), and on
 * PostgreSQL only for tables under `maxRollbackRows`, with a lock timeout so it never queues
 * behind (or in front of) a busy table's writers.
 */
import { loadParser } from '../analyze.js'
import type { Driver, Runner } from '../driver.js'
import { IndexesMissingError } from '../errors.js'
import { type Candidate, candidateId, candidatesOf, indexSql } from './candidates.js'
import { type ExistingIndex, existingIndexes, qualify, tableInfo } from './catalog.js'

/** One statement of the workload. */
export interface WorkloadEntry {
  text: string
  params?: readonly unknown[]
  /** How often it runs (weight). @default 1 */
  calls?: number
}

/** Options of `adviseIndexes()`. */
export interface AdviseOptions {
  /** The client to advise (its backend runs the what-if costing). */
  db: { readonly _driver: Driver; workload(): WorkloadEntry[] }
  /** The workload. @default the client's captured workload (`db.workload()`) */
  workload?: readonly WorkloadEntry[]
  /**
   * Most indexes to suggest.
   * @default 10
   */
  budget?: number
  /**
   * Least share of a statement's cost an index must save for the statement to count.
   * @default 0.5
   */
  minImprovement?: number
  /**
   * Statements whose plan costs less than this are left alone (tiny tables).
   * @default 100
   */
  minCost?: number
  /**
   * Planner cost units charged per captured write to the table, per suggested index.
   * @default 20
   */
  writeCost?: number
  /**
   * 'auto': HypoPG when installed (created with CREATE EXTENSION when available), else a rolled-back
   * real index. 'hypopg' or 'rollback' force one.
   * @default 'auto'
   */
  whatIf?: 'auto' | 'hypopg' | 'rollback'
  /**
   * On PostgreSQL, the rolled-back real index is only built on tables with fewer rows than this.
   * @default 2000000
   */
  maxRollbackRows?: number
  /** Check mode: reject with E_DB_INDEXES_MISSING when indexes are suggested (for CI). @default false */
  check?: boolean
}

/** One suggested index. */
export interface IndexSuggestion {
  table: string
  columns: string[]
  include: string[]
  where: string | undefined
  kind: Candidate['kind']
  /** CREATE INDEX CONCURRENTLY statement. */
  sql: string
  /** Planner cost saved per workload pass (Σ calls × saving), after the write cost. */
  benefit: number
  writePenalty: number
  /** The statements it speeds up: cost before and after. */
  statements: Array<{ text: string; before: number; after: number }>
}

/** The advisor's report. */
export interface AdviceReport {
  method: 'hypopg' | 'rollback'
  suggestions: IndexSuggestion[]
  /** Indexes never scanned (pg_stat_user_indexes), not unique or primary. */
  unused: Array<{ table: string; index: string; bytes: number }>
  /** Indexes whose keys are a prefix of another index's on the same table (same predicate). */
  duplicates: Array<{ table: string; index: string; coveredBy: string }>
  /** Statements or candidates that could not be costed, and why. */
  skipped: Array<{ what: string; reason: string }>
  statementsAnalyzed: number
  candidatesCosted: number
  /** 1 in check mode when suggestions exist (for a CLI's exit code), else 0. */
  exitCode: 0 | 1
}

interface Stmt {
  text: string
  params: readonly unknown[]
  calls: number
  base: number
  tables: Set<string>
}

interface Cand {
  c: Candidate
  table: string
  sql: string
  costs: Map<number, number>
  size: number
}

function quoteQualified(q: string): string {
  const i = q.indexOf('.')
  const part = (s: string) => `"${s.replaceAll('"', '""')}"`
  return `${part(q.slice(0, i))}.${part(q.slice(i + 1))}`
}

async function planCost(conn: Runner, text: string, params: readonly unknown[]): Promise<number> {
  const { rows } = await conn.run(`EXPLAIN (FORMAT JSON) ${text}`, params, undefined)
  const raw = rows[0]?.['QUERY PLAN'] ?? Object.values(rows[0] ?? {})[0]
  const plan = (typeof raw === 'string' ? JSON.parse(raw) : raw) as Array<{ Plan: { 'Total Cost': number } }>
  return Number(plan[0]?.Plan['Total Cost'])
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

async function hasHypoPG(conn: Runner, mode: AdviseOptions['whatIf']): Promise<string | undefined> {
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

/** Recommends indexes for a workload. See AdviseOptions. */
export async function adviseIndexes(options: AdviseOptions): Promise<AdviceReport> {
  const budget = options.budget ?? 10
  const minImprovement = options.minImprovement ?? 0.5
  const minCost = options.minCost ?? 100
  const writeCost = options.writeCost ?? 20
  const maxRollbackRows = options.maxRollbackRows ?? 2_000_000
  if (!Number.isInteger(budget) || budget < 0)
    throw new RangeError(`budget must be an integer >= 0; received ${budget}`)
  if (!(minImprovement > 0 && minImprovement < 1)) {
    throw new RangeError(`minImprovement must be between 0 and 1; received ${minImprovement}`)
  }
  const parser = await loadParser()
  const driver = options.db._driver
  const workload = options.workload ?? options.db.workload()
  const report = await driver.session(async (conn) => {
    const skipped: AdviceReport['skipped'] = []
    const hypo = await hasHypoPG(conn, options.whatIf)
    const existing = await existingIndexes(conn)
    const stmts: Stmt[] = []
    const cands = new Map<string, Cand>()
    const writes = new Map<string, number>()
    const infoCache = new Map<string, Awaited<ReturnType<typeof tableInfo>>>()
    const info = async (t: string) => {
      let i = infoCache.get(t)
      if (i === undefined) {
        i = await tableInfo(conn, t)
        infoCache.set(t, i)
      }
      return i
    }
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
      if (!(base >= minCost)) continue
      const idx = stmts.length
      const s: Stmt = { text: w.text, params: w.params ?? [], calls: w.calls ?? 1, base, tables: new Set() }
      stmts.push(s)
      for (const c of found) {
        const table = await qualify(conn, c.schema, c.table)
        if (table === undefined) continue
        s.tables.add(table)
        if (served(c, table, existing)) continue
        const id = `${table}|${candidateId(c)}`
        if (!cands.has(id)) {
          const rows = (await info(table)).rows
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
        void idx
      }
    }
    let costed = 0
    for (const cand of cands.values()) {
      const targets = stmts.map((s, i) => [s, i] as const).filter(([s]) => s.tables.has(cand.table))
      if (targets.length === 0) continue
      try {
        if (hypo !== undefined) {
          await conn.run(`SELECT * FROM ${hypo}.hypopg_create_index($1)`, [cand.sql], undefined)
          try {
            for (const [s, i] of targets) cand.costs.set(i, await planCost(conn, s.text, s.params))
          } finally {
            await conn.run(`SELECT ${hypo}.hypopg_reset()`, [], undefined)
          }
        } else {
          if (driver.backend === 'pg' && (await info(cand.table)).rows > maxRollbackRows) {
            skipped.push({
              what: cand.sql,
              reason: `table has more than maxRollbackRows (${maxRollbackRows}) rows and HypoPG is absent`,
            })
            continue
          }
          await conn.run('BEGIN', [], undefined)
          try {
            if (driver.backend === 'pg') await conn.run("SET LOCAL lock_timeout = '2s'", [], undefined)
            await conn.run(cand.sql, [], undefined)
            for (const [s, i] of targets) cand.costs.set(i, await planCost(conn, s.text, s.params))
          } finally {
            await conn.run('ROLLBACK', [], undefined)
          }
        }
        costed++
      } catch (err) {
        skipped.push({ what: cand.sql, reason: (err as Error).message })
      }
    }
    const suggestions = select(stmts, [...cands.values()], writes, { budget, minImprovement, writeCost })
    return {
      method: hypo !== undefined ? ('hypopg' as const) : ('rollback' as const),
      suggestions,
      unused: existing
        .filter((e) => e.scans === 0 && !e.unique && !e.primary)
        .map((e) => ({ table: e.table, index: e.name, bytes: e.bytes })),
      duplicates: duplicatesOf(existing),
      skipped,
      statementsAnalyzed: stmts.length,
      candidatesCosted: costed,
      exitCode: (options.check === true && suggestions.length > 0 ? 1 : 0) as 0 | 1,
    }
  }, undefined)
  if (options.check === true && report.suggestions.length > 0) {
    throw Object.assign(new IndexesMissingError(report.suggestions.map((s) => s.sql)), { report })
  }
  return report
}

function select(
  stmts: readonly Stmt[],
  cands: Cand[],
  writes: ReadonlyMap<string, number>,
  o: { budget: number; minImprovement: number; writeCost: number },
): IndexSuggestion[] {
  const current = stmts.map((s) => s.base)
  const chosen: IndexSuggestion[] = []
  const remaining = new Set(cands)
  while (chosen.length < o.budget) {
    const scored: Array<{ cand: Cand; score: number; penalty: number }> = []
    for (const cand of remaining) {
      let benefit = 0
      for (const [i, cost] of cand.costs) {
        const s = stmts[i] as Stmt
        const cur = current[i] as number
        if (cost <= cur * (1 - o.minImprovement) && cost <= s.base * (1 - o.minImprovement))
          benefit += s.calls * (cur - cost)
      }
      const penalty = (writes.get(cand.table) ?? 0) * o.writeCost
      if (benefit - penalty > 0) scored.push({ cand, score: benefit - penalty, penalty })
    }
    if (scored.length === 0) break
    const top = Math.max(...scored.map((x) => x.score))
    // near-ties go to the smallest index
    const pick = scored
      .filter((x) => x.score >= top * 0.95)
      .sort((a, b) => a.cand.size - b.cand.size || b.score - a.score)[0] as (typeof scored)[number]
    remaining.delete(pick.cand)
    const improved: IndexSuggestion['statements'] = []
    for (const [i, cost] of pick.cand.costs) {
      const cur = current[i] as number
      if (cost <= cur * (1 - o.minImprovement)) {
        improved.push({ text: (stmts[i] as Stmt).text, before: cur, after: cost })
        current[i] = cost
      }
    }
    const c = pick.cand.c
    chosen.push({
      table: pick.cand.table,
      columns: c.columns,
      include: c.include,
      where: c.where,
      kind: c.kind,
      sql: pick.cand.sql.replace('CREATE INDEX ON', 'CREATE INDEX CONCURRENTLY ON'),
      benefit: pick.score,
      writePenalty: pick.penalty,
      statements: improved,
    })
  }
  return chosen
}

function duplicatesOf(existing: readonly ExistingIndex[]): AdviceReport['duplicates'] {
  const out: AdviceReport['duplicates'] = []
  for (const a of existing) {
    if (a.unique || a.primary || a.method !== 'btree') continue
    const keys = a.columns.slice(0, a.keyCount)
    const cover = existing.find((b) => {
      if (b === a || b.table !== a.table || b.method !== 'btree' || b.predicate !== a.predicate) return false
      const bk = b.columns.slice(0, b.keyCount)
      if (bk.length < keys.length) return false
      if (bk.length === keys.length && b.name > a.name) return false
      return keys.every((k, i) => bk[i] === k)
    })
    if (cover !== undefined) out.push({ table: a.table, index: a.name, coveredBy: cover.name })
  }
  return out
}

/** A readable report (what the `hotpath advise` verb prints). */
export function formatAdvice(report: AdviceReport): string {
  const lines: string[] = []
  lines.push(
    `index advice (what-if costing: ${report.method}; ${report.statementsAnalyzed} statements, ${report.candidatesCosted} candidates costed)`,
  )
  if (report.suggestions.length === 0) lines.push('  no missing indexes found')
  for (const s of report.suggestions) {
    lines.push(`  ${s.sql};`)
    lines.push(
      `    ${s.kind}, benefit ${Math.round(s.benefit)} cost units per workload pass${s.writePenalty > 0 ? `, write cost ${Math.round(s.writePenalty)}` : ''}`,
    )
    for (const st of s.statements.slice(0, 3)) {
      lines.push(
        `    ${Math.round(st.before)} -> ${Math.round(st.after)}: ${st.text.replace(/\s+/g, ' ').slice(0, 100)}`,
      )
    }
  }
  for (const u of report.unused)
    lines.push(`  unused: ${u.index} on ${u.table} (${u.bytes} bytes, never scanned)`)
  for (const d of report.duplicates)
    lines.push(`  duplicate: ${d.index} on ${d.table} (its keys are a prefix of ${d.coveredBy})`)
  for (const k of report.skipped) lines.push(`  skipped: ${k.what.slice(0, 80)}: ${k.reason}`)
  return lines.join('\n')
}

/**
 * Creates the suggested indexes, one at a time, with CREATE INDEX CONCURRENTLY (writers are not
 * blocked) under an advisory lock, so two instances never build the same indexes at once. On
 * PGlite (one connection, nobody to block) the plain CREATE INDEX is used. Returns the statements run.
 */
export async function applyAdvice(db: { readonly _driver: Driver }, report: AdviceReport): Promise<string[]> {
  const driver = db._driver
  return driver.session(async (conn) => {
    const lock = await conn.run(
      "SELECT pg_try_advisory_lock(hashtext('hotpath:advise')) AS ok",
      [],
      undefined,
    )
    if (lock.rows[0]?.ok !== true)
      throw new Error('another instance is applying index advice (advisory lock held); try again later')
    const done: string[] = []
    try {
      for (const s of report.suggestions) {
        const text = driver.backend === 'pg' ? s.sql : s.sql.replace(' CONCURRENTLY', '')
        await conn.run(text, [], undefined)
        done.push(text)
      }
    } finally {
      await conn.run("SELECT pg_advisory_unlock(hashtext('hotpath:advise'))", [], undefined)
    }
    return done
  }, undefined)
}
