/**
 * The index advisor on a small version of the planted-needs benchmark (bench/db-planted.ts; the
 * bench runs it with 1M rows): needs found, no decoy suggested, the same answer on PostgreSQL
 * (HypoPG when installed, else rolled-back real indexes) and on PGlite (rolled-back real indexes).
 */
import assert from 'node:assert/strict'
import { after, describe, test } from 'node:test'
import { plantedSchema, plantedWorkload, scorePlanted } from '../../../bench/db-planted.js'
import {
  adviseIndexes,
  applyAdvice,
  type Db,
  formatAdvice,
  IndexesMissingError,
} from '../../../src/db/index.js'
import { type Backend, pgBackend, pgliteBackend } from './support.js'

const N = 20_000
// the tables are small at this scale, so the cost floor is lowered with them (the bench uses the default)
const OPTIONS = { minCost: 10, budget: 15 }

describe('index advisor on the planted-needs schema', () => {
  const backends: Backend[] = []
  const signatures: Record<string, string[]> = {}
  after(async () => {
    for (const b of backends) await b.close()
  })

  async function planted(make: () => Backend): Promise<Db> {
    const b = make()
    backends.push(b)
    const db = await b.open()
    for (const s of plantedSchema(N)) await db.query(s)
    return db
  }

  for (const make of [pgBackend, pgliteBackend]) {
    test(`${make().name}: finds the planted needs, suggests no decoy, applies and then checks clean`, async () => {
      const db = await planted(make)
      await db.query('CREATE INDEX orders_total_a ON orders (total)')
      await db.query('CREATE INDEX orders_total_b ON orders (total, id)')
      // both backends cost with real indexes here, so their answers must agree exactly
      const report = await adviseIndexes({ db, workload: plantedWorkload(N), ...OPTIONS, whatIf: 'rollback' })
      const score = scorePlanted(report)
      signatures[make().name] = score.signature
      assert.deepEqual(score.decoys, [], formatAdvice(report))
      assert.ok(score.found.length >= 8, `found ${score.found.join(',')}; missed ${score.missed.join(',')}`)
      assert.ok(
        report.duplicates.some((d) => d.index === 'orders_total_a' && d.coveredBy === 'orders_total_b'),
      )
      assert.ok(report.unused.some((u) => u.index === 'orders_total_a'))
      assert.match(formatAdvice(report), /CREATE INDEX CONCURRENTLY/)

      await assert.rejects(
        adviseIndexes({ db, workload: plantedWorkload(N), ...OPTIONS, check: true }),
        (e: unknown) => e instanceof IndexesMissingError && e.code === 'E_DB_INDEXES_MISSING',
      )
      const applied = await applyAdvice(db, report)
      assert.equal(applied.length, report.suggestions.length)
      await db.query('ANALYZE')
      const again = await adviseIndexes({ db, workload: plantedWorkload(N), ...OPTIONS })
      assert.equal(again.suggestions.length, 0, `${formatAdvice(report)}\n---\n${formatAdvice(again)}`)
      assert.equal(again.exitCode, 0)
    })
  }

  test('pg with HypoPG where installed (else rolled-back indexes): needs found, no decoy', async () => {
    const db = await planted(pgBackend)
    const report = await adviseIndexes({ db, workload: plantedWorkload(N), ...OPTIONS })
    const score = scorePlanted(report)
    assert.deepEqual(score.decoys, [], formatAdvice(report))
    assert.ok(
      score.found.length >= 8,
      `${report.method}: found ${score.found.join(',')}; missed ${score.missed.join(',')}`,
    )
  })

  test('the same answer on PostgreSQL and PGlite', () => {
    assert.ok(signatures.pg !== undefined && signatures.pglite !== undefined)
    assert.deepEqual(signatures.pg, signatures.pglite)
  })
})
