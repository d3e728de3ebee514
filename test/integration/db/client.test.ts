import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { type Db, type DbOptions, DbQueryError, sql } from '../../../src/db/index.js'
import { isHotpathError } from '../../../src/errors.js'
import { BACKENDS, type Backend } from './support.js'

for (const make of BACKENDS) {
  describe(`db client on ${make().name}`, () => {
    let b: Backend
    before(() => {
      b = make()
    })
    after(async () => {
      await b.close()
    })

    test('sql tag binds values as parameters; typed rows come back', async () => {
      const db = await b.open()
      await db.query('CREATE TABLE users (id int PRIMARY KEY, name text)')
      const evil = "x'); DROP TABLE users; --"
      await db.query(sql`INSERT INTO users (id, name) VALUES (${1}, ${evil})`)
      const { rows } = await db.query<{ id: number; name: string }>(
        sql`SELECT id, name FROM users WHERE name = ${evil}`,
      )
      assert.deepEqual(rows, [{ id: 1, name: evil }])
      const count = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM users WHERE id = $1', [1])
      assert.equal(count.rows[0]?.n, 1)
    })

    test('regression: rowCount of a SELECT on PGlite was 0 (its affected rows), and statement statistics counted 0 rows', async () => {
      const db = await b.open()
      await db.query('CREATE TABLE rc (id int PRIMARY KEY, v int)')
      const ins = await db.query('INSERT INTO rc SELECT g, g FROM generate_series(1, 5) g')
      assert.equal(ins.rowCount, 5)
      const sel = await db.query('SELECT id FROM rc WHERE id <= $1', [3])
      assert.equal(sel.rows.length, 3)
      assert.equal(sel.rowCount, 3)
      const upd = await db.query('UPDATE rc SET v = v + 1 WHERE id > $1 RETURNING id', [3])
      assert.equal(upd.rowCount, 2)
      const del = await db.query('DELETE FROM rc WHERE id = $1', [1])
      assert.equal(del.rowCount, 1)
      const stat = db.statements().find((x) => x.text.startsWith('SELECT id FROM rc'))
      assert.equal(stat?.rows, 3)
    })

    test('nested fragments are renumbered and identifiers quoted', async () => {
      const db = await b.open()
      await db.query('CREATE TABLE "Odd Name" (id int, v text)')
      await db.query(
        sql`INSERT INTO ${sql.id('Odd Name')} VALUES (${1}, ${'a'}), (${2}, ${'b'}), (${3}, ${'c'})`,
      )
      const ids = [1, 3]
      const where = sql`id IN (${sql.join(ids.map((i) => sql`${i}`))})`
      const r = await db.query<{ v: string }>(
        sql`SELECT v FROM ${sql.id('Odd Name')} WHERE v <> ${'z'} AND ${where} ORDER BY id`,
      )
      assert.deepEqual(
        r.rows.map((x) => x.v),
        ['a', 'c'],
      )
    })

    test('a query() with a plain string in place of a statement is refused', async () => {
      const db = await b.open()
      await assert.rejects(() => db.query({ text: 'SELECT 1', values: [] } as never), TypeError)
      await assert.rejects(() => db.query('SELECT $1::int', 5 as never), TypeError)
    })

    test('SQL errors carry SQLSTATE and position', async () => {
      const db = await b.open()
      await db.query('CREATE TABLE t (id int PRIMARY KEY)')
      await db.query('INSERT INTO t VALUES (1)')
      const dup = await db.query('INSERT INTO t VALUES (1)').catch((e: unknown) => e)
      assert.ok(dup instanceof DbQueryError)
      assert.equal(dup.code, 'E_DB_QUERY')
      assert.equal(dup.sqlState, '23505')
      assert.equal(dup.statusCode, 409)
      const missing = await db.query('SELECT nope FROM t').catch((e: unknown) => e)
      assert.ok(missing instanceof DbQueryError)
      assert.equal(missing.sqlState, '42703')
      assert.equal(missing.position, 8)
      assert.match(missing.message, /42703/)
    })

    test('a transaction commits, or rolls back entirely when the callback throws', async () => {
      const db = await b.open()
      await db.query('CREATE TABLE acct (id int PRIMARY KEY, bal int)')
      await db.query('INSERT INTO acct VALUES (1, 100), (2, 0)')
      await db.transaction(async (tx) => {
        await tx.query(sql`UPDATE acct SET bal = bal - ${30} WHERE id = ${1}`)
        await tx.query(sql`UPDATE acct SET bal = bal + ${30} WHERE id = ${2}`)
      })
      await assert.rejects(
        db.transaction(async (tx) => {
          await tx.query(sql`UPDATE acct SET bal = 0 WHERE id = ${1}`)
          throw new Error('changed my mind')
        }),
        /changed my mind/,
      )
      const r = await db.query<{ bal: number }>('SELECT bal FROM acct ORDER BY id')
      assert.deepEqual(
        r.rows.map((x) => x.bal),
        [70, 30],
      )
    })

    test('a caught error inside a transaction makes COMMIT fail rather than pretend', async () => {
      const db = await b.open()
      await db.query('CREATE TABLE t (id int PRIMARY KEY)')
      const err = await db
        .transaction(async (tx) => {
          await tx.query('INSERT INTO t VALUES (1)')
          await tx.query('INSERT INTO t VALUES (1)').catch(() => {})
        })
        .catch((e: unknown) => e)
      assert.ok(err instanceof DbQueryError)
      assert.equal(err.sqlState, '25P02')
      const r = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM t')
      assert.equal(r.rows[0]?.n, 0)
    })

    test('BEGIN through query() is refused with a pointer to transaction()', async () => {
      const db = await b.open()
      await assert.rejects(() => db.query('BEGIN'), /db\.transaction/)
    })

    test('an aborted signal stops a statement before it runs', async () => {
      const db = await b.open()
      const ac = new AbortController()
      ac.abort()
      await assert.rejects(
        () => db.query('SELECT 1', [], { signal: ac.signal }),
        (e: unknown) => isHotpathError(e, 'E_ABORTED'),
      )
    })

    test('unknown options are refused with the closest name', async () => {
      const db = await b.open()
      await assert.rejects(() => db.query('SELECT 1', [], { cahce: true } as never), /did you mean "cache"/i)
    })

    test('statement statistics group by fingerprint with constants stripped', async () => {
      const db = await b.open()
      await db.query('CREATE TABLE t (id int)')
      for (let i = 0; i < 5; i++) await db.query(`SELECT * FROM t WHERE id = ${i}`)
      const row = db.statements().find((s) => s.text.startsWith('SELECT * FROM t WHERE id ='))
      assert.ok(row)
      assert.equal(row.calls, 5)
      assert.ok(row.time.p99Ms >= 0 && row.time.maxMs >= row.time.meanMs)
    })

    test('pool stats count acquires and expose the acquire-wait histogram', async () => {
      const db = await b.open()
      await Promise.all(Array.from({ length: 12 }, () => db.query('SELECT 1')))
      const p = db.poolStats()
      assert.equal(p.backend, b.name)
      assert.ok(p.acquires >= 12)
      assert.ok(p.emptyAcquires >= 1, 'some of 12 concurrent statements waited for a connection')
      assert.equal(p.acquireWait.count, p.acquires)
      assert.equal(p.waiting, 0)
      const h = await db.healthCheck().check(AbortSignal.timeout(5000))
      assert.equal(typeof h === 'object' && h.status, 'healthy')
    })
  })
}

describe('db client on pg only', () => {
  /** Runs `fn` with a pg client (options `extra`), then drops its schema. */
  async function withPg(extra: DbOptions, fn: (db: Db) => Promise<void>): Promise<void> {
    const b = BACKENDS[0]?.() as Backend
    try {
      await fn(await b.open(extra))
    } finally {
      await b.close()
    }
  }

  test('an AbortSignal cancels a running statement on the server', () =>
    withPg({}, async (db) => {
      const ac = new AbortController()
      const p = db.query('SELECT pg_sleep(30)', [], { signal: ac.signal })
      setTimeout(() => ac.abort(), 100)
      await assert.rejects(p, (e: unknown) => isHotpathError(e, 'E_ABORTED'))
      const r = await db.query<{ n: number }>('SELECT 1 AS n')
      assert.equal(r.rows[0]?.n, 1)
    }))

  test('an AbortSignal abandons the wait for a connection, and that connection goes back to the pool', () =>
    withPg({ max: 1 }, async (db) => {
      const busy = db.query('SELECT pg_sleep(0.3)')
      const ac = new AbortController()
      const waiting = db.query('SELECT 1', [], { signal: ac.signal })
      setTimeout(() => ac.abort(), 50)
      await assert.rejects(waiting, (e: unknown) => isHotpathError(e, 'E_ABORTED'))
      assert.equal(db.poolStats().canceledAcquires, 1)
      await busy
      // the one connection was handed to the abandoned wait and must have come straight back
      const r = await db.query<{ n: number }>('SELECT 2 AS n', [], { signal: new AbortController().signal })
      assert.equal(r.rows[0]?.n, 2)
      const p = db.poolStats()
      assert.deepEqual([p.total, p.idle, p.waiting], [1, 1, 0])
    }))

  test('a statement with a signal that fails with an SQL error rejects with it and keeps the connection', () =>
    withPg({ max: 1 }, async (db) => {
      const signal = new AbortController().signal
      await assert.rejects(
        () => db.query('SELECT 1 / 0', [], { signal }),
        (e: unknown) => e instanceof DbQueryError && e.sqlState === '22012',
      )
      await assert.rejects(
        () => db.query('SELECT 1 / 0'),
        (e: unknown) => e instanceof DbQueryError,
      )
      const r = await db.query<{ n: number }>('SELECT 3 AS n', [], { signal })
      assert.equal(r.rows[0]?.n, 3)
      assert.equal(db.poolStats().total, 1)
    }))
})

describe('db client on pglite only', () => {
  test('regression: a db.query inside db.transaction() hung for good on PGlite (one connection); it fails with E_ACQUIRE_TIMEOUT naming the transaction handle, and the transaction goes on', async () => {
    const b = BACKENDS[1]?.() as Backend
    try {
      const db = await b.open({ acquireTimeout: '200ms' })
      await db.query('CREATE TABLE kv (id int PRIMARY KEY, v int NOT NULL)')
      let inner: unknown
      await db.transaction(async (tx) => {
        await tx.query('INSERT INTO kv VALUES (1, 10)')
        inner = await db.query('SELECT count(*)::int AS n FROM kv').then(
          () => 'answered',
          (err: unknown) => err,
        )
        await tx.query('INSERT INTO kv VALUES (2, 20)')
      })
      assert.ok(isHotpathError(inner, 'E_ACQUIRE_TIMEOUT'), String(inner))
      assert.match((inner as Error).message, /within 200ms; .*tx\.query/)
      assert.equal((await db.query<{ n: number }>('SELECT count(*)::int AS n FROM kv')).rows[0]?.n, 2)
      assert.equal(db.stats().pool.acquireTimeouts, 1)
      assert.equal(db.stats().pool.waiting, 0)
    } finally {
      await b.close()
    }
  })

  test('a statement queued behind another one waits its turn within acquireTimeout and is answered', async () => {
    const b = BACKENDS[1]?.() as Backend
    try {
      const db = await b.open({ acquireTimeout: '5s' })
      const answers = await Promise.all(
        Array.from({ length: 20 }, (_, i) => db.query<{ n: number }>('SELECT $1::int AS n', [i])),
      )
      assert.deepEqual(
        answers.map((r) => r.rows[0]?.n),
        Array.from({ length: 20 }, (_, i) => i),
      )
      assert.equal(db.stats().pool.acquireTimeouts, 0)
    } finally {
      await b.close()
    }
  })
})
