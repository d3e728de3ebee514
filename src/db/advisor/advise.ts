/**
 * The index advisor. From a workload (statements with sample parameters and call counts: the
 * client's captured workload by default), it proposes candidates per statement (candidates.ts,
 * gathered across the workload by workload.ts), costs every statement on the candidate's table
 * with the planner, with the candidate present (what-if.ts), and picks indexes greedily across
 * the whole workload under a budget (here, with the report):
 *   benefit(c) = Σ calls × (current cost − cost with c), counting a statement only when c cuts its
 *   cost by at least `minImprovement`; minus a write cost: writes to the table × `writeCost`.
 * Near-ties (within 5%) go to the smaller index (a partial index over a covering or wider one).
 * What-if costing uses HypoPG when the server has it (hypothetical indexes, no build), otherwise
 * a real index built inside a transaction that is rolled back: cheap on PGlite (local), and on
 * PostgreSQL only for tables under `maxRollbackRows`, with a lock timeout so it never queues
 * behind (or in front of) a busy table's writers.
 */
import { loadParser } from '../analyze.js'
import type { Driver } from '../driver.js'
import { IndexesMissingError } from '../errors.js'
import type { Candidate } from './candidates.js'
import { type ExistingIndex, existingIndexes } from './catalog.js'
import { costWithIndex, hasHypoPG } from './what-if.js'
import { type Cand, type Stmt, scanWorkload, tableRows, type WorkloadEntry } from './workload.js'

export type { WorkloadEntry } from './workload.js'

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
    const rows = tableRows(conn)
    const { stmts, cands, writes } = await scanWorkload(conn, workload, {
      parser,
      existing,
      minCost,
      rows,
      skipped,
    })
    let costed = 0
    for (const cand of cands.values()) {
      const targets = stmts.map((s, i) => [s, i] as const).filter(([s]) => s.tables.has(cand.table))
      if (targets.length === 0) continue
      try {
        if (hypo === undefined && driver.backend === 'pg' && (await rows(cand.table)) > maxRollbackRows) {
          skipped.push({
            what: cand.sql,
            reason: `table has more than maxRollbackRows (${maxRollbackRows}) rows and HypoPG is absent`,
          })
          continue
        }
        await costWithIndex(conn, { hypo, backend: driver.backend }, cand.sql, targets, cand.costs)
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
