/**
 * Regression tests from the dbaudit review of cached reads, name resolution and invalidation:
 * each test is named for what broke.
 */
import assert from 'node:assert/strict'
import { after, describe, test } from 'node:test'
import { Redis } from 'ioredis'
import type { Db } from '../../../src/db/index.js'
import { cleanupPrefix, REDIS_URL, uniquePrefix } from '../../helpers/services.js'
import { BACKENDS, type Backend, memoryCache, pgBackend } from './support.js'

async function cached(db: Db, text: string): Promise<unknown[]> {
  return [...(await db.query(text, [], { cache: true })).rows]
}

describe('dbaudit (pg)', () => {
  const backends: Backend[] = []
  const prefixes: string[] = []
  const backend = () => {
    const b = pgBackend()
    backends.push(b)
    return b
  }
  after(async () => {
    for (const b of backends) await b.close()
    for (const p of prefixes) await cleanupPrefix(p)
  })

  test('regression: two clients sharing a cache and Redis versions, on one database with different search_paths, answered one table with the rows of the other (keys held versions, not table names)', async () => {
    const prefix = uniquePrefix('db-dbaudit')
    prefixes.push(prefix)
    const cache = memoryCache()
    const opts = { cache, redis: REDIS_URL, prefix }
    const b1 = backend()
    const a = await b1.open(opts)
    await a.query('CREATE TABLE t (v int)')
    await a.query('INSERT INTO t VALUES (1)')
    const b2 = backend()
    const other = await b2.open(opts)
    await other.query('CREATE TABLE t (v int)')
    await other.query('INSERT INTO t VALUES (2)')
    assert.deepEqual(await cached(a, 'SELECT v FROM t'), [{ v: 1 }])
    assert.deepEqual(await cached(other, 'SELECT v FROM t'), [{ v: 2 }])
  })

  test('regression: eventual consistency: after the version hash was deleted (FLUSHDB, eviction) and recreated with a lower epoch, every later bump was taken for an old one and ignored, so even the writing instance served stale cached reads', async () => {
    const prefix = uniquePrefix('db-dbaudit')
    prefixes.push(prefix)
    const b = backend()
    const db = await b.open({ cache: memoryCache(), redis: REDIS_URL, prefix })
    const other = await b.openAnother({ cache: memoryCache(), redis: REDIS_URL, prefix })
    const r = new Redis(REDIS_URL)
    try {
      await db.query('CREATE TABLE t (v int)')
      await db.query('INSERT INTO t VALUES (1)')
      // both subscribed and trusting their local copies
      await new Promise((res) => setTimeout(res, 300))
      assert.deepEqual(await cached(db, 'SELECT v FROM t'), [{ v: 1 }])
      assert.deepEqual(await cached(other, 'SELECT v FROM t'), [{ v: 1 }])
      const hash = `${prefix}db:tv`
      await r.del(hash)
      // what the next script finds missing it creates with a fresh random epoch: here a low one
      await r.hset(hash, '~epoch', '1')
      await db.query('UPDATE t SET v = 2')
      assert.deepEqual(await cached(db, 'SELECT v FROM t'), [{ v: 2 }])
      await new Promise((res) => setTimeout(res, 100))
      assert.deepEqual(await cached(other, 'SELECT v FROM t'), [{ v: 2 }])
    } finally {
      r.disconnect()
    }
  })

  test('regression: names resolved inside a transaction after SET LOCAL search_path were resolved and kept as if outside it (and the other way round), so writes invalidated the wrong schema and cached reads stayed stale', async () => {
    const b = backend()
    const db = await b.open({ cache: memoryCache() })
    const other = `o_${Math.random().toString(16).slice(2, 10)}`
    try {
      const cur = String((await db.query('SELECT current_schema() AS s')).rows[0]?.s)
      await db.query('CREATE TABLE t (v int)')
      await db.query('INSERT INTO t VALUES (1)')
      await db.query(`CREATE SCHEMA ${other}`)
      await db.query(`CREATE TABLE ${other}.t (v int)`)
      await db.query(`INSERT INTO ${other}.t VALUES (100)`)
      // resolved inside first: kept for the client
      await db.transaction(async (tx) => {
        await tx.query(`SET LOCAL search_path TO ${other}`)
        await tx.query('UPDATE t SET v = v + 1')
      })
      assert.deepEqual(await cached(db, `SELECT v FROM ${cur}.t`), [{ v: 1 }])
      assert.deepEqual(await cached(db, `SELECT v FROM ${other}.t`), [{ v: 101 }])
      await db.query('UPDATE t SET v = v + 1')
      assert.deepEqual(await cached(db, `SELECT v FROM ${cur}.t`), [{ v: 2 }])
      // resolved outside first: used inside after SET LOCAL
      await db.query('DELETE FROM t WHERE v < 0')
      await db.transaction(async (tx) => {
        await tx.query(`SET LOCAL search_path TO ${other}`)
        await tx.query('DELETE FROM t WHERE v < 0')
        await tx.query('UPDATE t SET v = v + 1')
      })
      assert.deepEqual(await cached(db, `SELECT v FROM ${other}.t`), [{ v: 102 }])
    } finally {
      await b.raw(`DROP SCHEMA IF EXISTS ${other} CASCADE`)
    }
  })

  test('regression: a view redefined inside a transaction that rolled back kept its uncommitted base tables for the client, so writes through it invalidated the wrong table and cached reads stayed stale', async () => {
    const b = backend()
    const db = await b.open({ cache: memoryCache() })
    await db.query('CREATE TABLE a (v int)')
    await db.query('CREATE TABLE b (v int)')
    await db.query('INSERT INTO a VALUES (10)')
    await db.query('INSERT INTO b VALUES (20)')
    await db.query('CREATE VIEW vw AS SELECT v FROM a')
    await assert.rejects(
      db.transaction(async (tx) => {
        await tx.query('CREATE OR REPLACE VIEW vw AS SELECT v FROM b')
        await tx.query('UPDATE vw SET v = v + 1')
        throw new Error('roll back')
      }),
      /roll back/,
    )
    assert.deepEqual(await cached(db, 'SELECT v FROM vw'), [{ v: 10 }])
    assert.deepEqual(await cached(db, 'SELECT v FROM a'), [{ v: 10 }])
    await db.query('UPDATE vw SET v = v + 1')
    assert.deepEqual(await cached(db, 'SELECT v FROM vw'), [{ v: 11 }])
    assert.deepEqual(await cached(db, 'SELECT v FROM a'), [{ v: 11 }])
  })
})

for (const make of BACKENDS) {
  describe(`dbaudit (${make().name})`, () => {
    const b = make()
    after(() => b.close())

    test('regression: with table inheritance (INHERITS), a write to a child left cached reads of the parent stale, and a write through the parent left cached reads of the child stale', async () => {
      const db = await b.open({ cache: memoryCache() })
      await db.query('CREATE TABLE parent (id int, v int)')
      await db.query('CREATE TABLE child () INHERITS (parent)')
      await db.query('CREATE TABLE grandchild () INHERITS (child)')
      await db.query('INSERT INTO grandchild VALUES (1, 1)')
      const sum = async (t: string) => (await cached(db, `SELECT sum(v)::int AS s FROM ${t}`))[0]
      assert.deepEqual(await sum('parent'), { s: 1 })
      assert.deepEqual(await sum('child'), { s: 1 })
      await db.query('UPDATE grandchild SET v = 5')
      assert.deepEqual(await sum('parent'), { s: 5 })
      assert.deepEqual(await sum('child'), { s: 5 })
      assert.deepEqual(await sum('grandchild'), { s: 5 })
      await db.query('UPDATE parent SET v = 7')
      assert.deepEqual(await sum('grandchild'), { s: 7 })
      assert.deepEqual(await sum('child'), { s: 7 })
    })
  })
}
