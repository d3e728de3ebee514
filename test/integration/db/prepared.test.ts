/**
 * Named prepared statements on the pg driver (`preparedStatements`): which statements get a
 * name, the cap, off at 0, and a statement whose server-side plan went stale under DDL. The
 * pool has one connection, so `pg_prepared_statements` (per session) shows what it holds.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { createDb, type Db } from '../../../src/db/index.js'
import { type Backend, pgBackend, pgliteBackend } from './support.js'

/** Names hotpath prepared on the one connection of `db` (not counting these queries' own). */
async function preparedNames(db: Db): Promise<string[]> {
  const { rows } = await db.query<{ name: string }>(
    "SELECT name FROM pg_prepared_statements WHERE name LIKE 'hp\\_%' AND statement NOT LIKE '%pg_prepared_statements%' ORDER BY name",
  )
  return rows.map((r) => r.name)
}

describe('named prepared statements on pg', () => {
  let b: Backend
  before(() => {
    b = pgBackend()
  })
  after(async () => {
    await b.close()
  })

  test('a plain read and a plain write run as named statements, parsed once per connection', async () => {
    const db = await b.open({ max: 1 })
    await db.query('CREATE TABLE p1 (id int PRIMARY KEY, v text)')
    for (let i = 1; i <= 3; i++) await db.query('INSERT INTO p1 (id, v) VALUES ($1, $2)', [i, `v${i}`])
    for (let i = 1; i <= 3; i++) {
      const r = await db.query<{ v: string }>('SELECT v FROM p1 WHERE id = $1', [i])
      assert.equal(r.rows[0]?.v, `v${i}`)
    }
    const names = await preparedNames(db)
    // the INSERT and the SELECT; the CREATE TABLE (a utility statement) is not named
    assert.equal(names.length, 2, names.join(','))
    const { rows } = await db.query<{ statement: string }>(
      "SELECT statement FROM pg_prepared_statements WHERE name LIKE 'hp\\_%' AND statement NOT LIKE '%pg_prepared_statements%' ORDER BY statement",
    )
    assert.deepEqual(
      rows.map((r) => r.statement),
      ['INSERT INTO p1 (id, v) VALUES ($1, $2)', 'SELECT v FROM p1 WHERE id = $1'],
    )
  })

  test('preparedStatements: 0 runs every statement unnamed', async () => {
    const db = await b.open({ max: 1, preparedStatements: 0 })
    await db.query('CREATE TABLE p0 (id int PRIMARY KEY)')
    await db.query('INSERT INTO p0 VALUES ($1)', [1])
    assert.equal((await db.query('SELECT id FROM p0 WHERE id = $1', [1])).rows.length, 1)
    assert.deepEqual(await preparedNames(db), [])
  })

  test('at most preparedStatements texts get a name; later texts run unnamed and still answer', async () => {
    const db = await b.open({ max: 1, preparedStatements: 2 })
    await db.query('CREATE TABLE pc (id int PRIMARY KEY, a int, b int, c int)')
    await db.query('INSERT INTO pc VALUES (1, 10, 20, 30)')
    const a = await db.query<{ a: number }>('SELECT a FROM pc WHERE id = $1', [1])
    const bb = await db.query<{ b: number }>('SELECT b FROM pc WHERE id = $1', [1])
    const c = await db.query<{ c: number }>('SELECT c FROM pc WHERE id = $1', [1])
    assert.deepEqual([a.rows[0]?.a, bb.rows[0]?.b, c.rows[0]?.c], [10, 20, 30])
    // the INSERT without parameters and the first SELECT took the two names
    const { rows } = await db.query<{ statement: string }>(
      "SELECT statement FROM pg_prepared_statements WHERE name LIKE 'hp\\_%' AND statement NOT LIKE '%pg_prepared_statements%' ORDER BY statement",
    )
    assert.deepEqual(
      rows.map((r) => r.statement),
      ['INSERT INTO pc VALUES (1, 10, 20, 30)', 'SELECT a FROM pc WHERE id = $1'],
    )
  })

  test('a text of several statements (simple protocol) is not named and still runs', async () => {
    const db = await b.open({ max: 1 })
    await db.query('CREATE TABLE pm (id int PRIMARY KEY)')
    const r = await db.query(
      'INSERT INTO pm VALUES (1); INSERT INTO pm VALUES (2); SELECT count(*)::int AS n FROM pm',
    )
    assert.equal((r.rows[0] as { n: number }).n, 2)
    assert.deepEqual(await preparedNames(db), [])
  })

  test('a prepared SELECT * whose result type changed under ALTER TABLE (0A000, cached plan must not change result type on that connection) is renamed and answers with the new column', async () => {
    const db = await b.open({ max: 1 })
    await db.query('CREATE TABLE ps (id int PRIMARY KEY, v int)')
    await db.query('INSERT INTO ps VALUES (1, 10)')
    const before = await db.query('SELECT * FROM ps WHERE id = $1', [1])
    assert.deepEqual(before.rows, [{ id: 1, v: 10 }])
    await db.query('ALTER TABLE ps ADD COLUMN w int DEFAULT 7')
    const afterAlter = await db.query('SELECT * FROM ps WHERE id = $1', [1])
    assert.deepEqual(afterAlter.rows, [{ id: 1, v: 10, w: 7 }])
    // and again: the new name is used from now on (no failure and retry each time)
    const again = await db.query('SELECT * FROM ps WHERE id = $1', [1])
    assert.deepEqual(again.rows, [{ id: 1, v: 10, w: 7 }])
    const names = await preparedNames(db)
    assert.equal(names.filter((n) => n.includes('.')).length, 1, names.join(','))
  })

  test('a statement dropped on the server (DEALLOCATE ALL) is prepared again under a new name', async () => {
    const db = await b.open({ max: 1 })
    await db.query('CREATE TABLE pd (id int PRIMARY KEY)')
    await db.query('INSERT INTO pd VALUES (1)')
    assert.equal((await db.query('SELECT id FROM pd WHERE id = $1', [1])).rows.length, 1)
    await db.query('DEALLOCATE ALL')
    assert.equal((await db.query('SELECT id FROM pd WHERE id = $1', [1])).rows.length, 1)
    assert.equal((await db.query('SELECT id FROM pd WHERE id = $1', [1])).rows.length, 1)
  })

  test('with a signal (the abortable path) a statement is named too', async () => {
    const db = await b.open({ max: 1 })
    await db.query('CREATE TABLE pa (id int PRIMARY KEY)')
    const signal = new AbortController().signal
    await db.query('SELECT id FROM pa WHERE id = $1', [1], { signal })
    assert.equal((await preparedNames(db)).length, 1)
  })

  test('statements inside a transaction run unnamed (a failure there could not be retried)', async () => {
    const db = await b.open({ max: 1 })
    await db.query('CREATE TABLE pt (id int PRIMARY KEY)')
    await db.transaction(async (tx) => {
      await tx.query('INSERT INTO pt VALUES ($1)', [1])
      await tx.query('SELECT id FROM pt WHERE id = $1', [1])
    })
    assert.deepEqual(await preparedNames(db), [])
  })

  test('a bad preparedStatements is refused with what is expected', async () => {
    for (const bad of [-1, 1.5, '10', Number.NaN]) {
      await assert.rejects(
        createDb({ preparedStatements: bad as number }),
        (err: Error) =>
          err instanceof RangeError &&
          /preparedStatements must be an integer >= 0; received/.test(err.message),
      )
    }
  })
})

describe('named prepared statements on PGlite', () => {
  let b: Backend
  before(() => {
    b = pgliteBackend()
  })
  after(async () => {
    await b.close()
  })

  test('the option is accepted and statements run as before', async () => {
    const db = await b.open({ preparedStatements: 5 })
    await db.query('CREATE TABLE pl (id int PRIMARY KEY)')
    await db.query('INSERT INTO pl VALUES ($1)', [1])
    assert.equal((await db.query('SELECT id FROM pl WHERE id = $1', [1])).rows.length, 1)
  })
})
