/**
 * The randomized staleness test (the bench runs the same harness with 10,000 operations): lanes
 * of concurrent reads and writes over raw SQL, a CTE, a view and transactions (committed and
 * rolled back), across two instances with their own caches sharing table versions through Redis.
 */
import assert from 'node:assert/strict'
import { after, describe, test } from 'node:test'
import { fixtureSql, runStaleness, type StaleTarget } from '../../../bench/db-staleness.js'
import type { Db } from '../../../src/db/index.js'
import { cleanupPrefix, REDIS_URL, uniquePrefix } from '../../helpers/services.js'
import { type Backend, memoryCache, pgBackend, pgliteBackend } from './support.js'

function target(db: Db): StaleTarget {
  const read = async (text: string, id: number) =>
    (await db.query<{ v: number }>(text, [id], { cache: true })).rows[0]?.v
  return {
    readTable: (id) => read('SELECT v FROM kv WHERE id = $1', id),
    readView: (id) => read('SELECT v FROM kv_view WHERE id = $1', id),
    update: async (id, v) => void (await db.query('UPDATE kv SET v = $2 WHERE id = $1', [id, v])),
    updateCte: async (id, v) =>
      void (await db.query(
        'WITH u AS (UPDATE kv SET v = $2 WHERE id = $1 RETURNING id) SELECT count(*) FROM u',
        [id, v],
      )),
    updateView: async (id, v) => void (await db.query('UPDATE kv_view SET v = $2 WHERE id = $1', [id, v])),
    txCommit: (a, b) =>
      db.transaction(async (tx) => {
        await tx.query('UPDATE kv SET v = $2 WHERE id = $1', a)
        await tx.query('UPDATE kv SET v = $2 WHERE id = $1', b)
      }),
    txRollback: (id, v) =>
      db.transaction(async (tx) => {
        await tx.query('UPDATE kv SET v = $2 WHERE id = $1', [id, v])
        throw new Error('roll back')
      }),
  }
}

describe('staleness under randomized concurrent reads and writes', () => {
  const backends: Backend[] = []
  const prefixes: string[] = []
  after(async () => {
    for (const b of backends) await b.close()
    for (const p of prefixes) await cleanupPrefix(p)
  })

  test('pg, two instances sharing versions through Redis (strict): 0 stale reads', async () => {
    const b = pgBackend()
    backends.push(b)
    const prefix = uniquePrefix('db-stale')
    prefixes.push(prefix)
    const a = await b.open({ cache: memoryCache(), redis: REDIS_URL, prefix, consistency: 'strict' })
    for (const s of fixtureSql(6)) await a.query(s)
    const second = await b.openAnother({
      cache: memoryCache(),
      redis: REDIS_URL,
      prefix,
      consistency: 'strict',
    })
    const report = await runStaleness({
      targets: [target(a), target(second)],
      keys: 6,
      ops: 800,
      lanes: 4,
      seed: 12,
      readShare: 0.85,
    })
    assert.equal(report.stale, 0, report.examples.join('\n'))
    assert.ok(report.reads > 500 && report.writes > 60)
    assert.ok(a.stats().cacheHits + second.stats().cacheHits > 0, 'the cache was used')
  })

  test('PGlite, one instance with four lanes: 0 stale reads', async () => {
    const b = pgliteBackend()
    backends.push(b)
    const db = await b.open({ cache: memoryCache() })
    for (const s of fixtureSql(6)) await db.query(s)
    const report = await runStaleness({
      targets: [target(db)],
      keys: 6,
      ops: 600,
      lanes: 4,
      seed: 7,
      readShare: 0.85,
    })
    assert.equal(report.stale, 0, report.examples.join('\n'))
    assert.ok(db.stats().cacheHits > 0)
  })
})
