/**
 * Regression tests from an outside audit of hotpath/db: each test is named for what broke.
 * Every test gets its own schema (support.ts) and, where Redis is involved, its own key prefix.
 */
import assert from 'node:assert/strict'
import { after, describe, test } from 'node:test'
import { PGlite } from '@electric-sql/pglite'
import { Redis } from 'ioredis'
import pg from 'pg'
import {
  createDb,
  createLoader,
  type Db,
  DbQueryError,
  sql,
  type Transaction,
} from '../../../src/db/index.js'
import { isHotpathError } from '../../../src/errors.js'
import { FakeClock } from '../../../src/time.js'
import { cleanupPrefix, DATABASE_URL, REDIS_URL, uniquePrefix } from '../../helpers/services.js'
import { BACKENDS, type Backend, memoryCache, pgBackend, until } from './support.js'

const opened: Backend[] = []
after(async () => {
  for (const b of opened) await b.close()
})

function backend(make: () => Backend): Backend {
  const b = make()
  opened.push(b)
  return b
}

/** Waits until `text` runs on the server, then ends its backend (as an admin or a crash would). */
async function terminateWhenRunning(b: Backend, text: string): Promise<void> {
  await until(
    async () =>
      (await b.raw("SELECT 1 FROM pg_stat_activity WHERE query = $1 AND state = 'active'", [text])).length >
      0,
    'the statement runs',
  )
  await b.raw('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query = $1', [text])
}

async function kvDb(b: Backend): Promise<Db> {
  const db = await b.open({ cache: memoryCache() })
  await db.query('CREATE TABLE kv (id int PRIMARY KEY, v int NOT NULL)')
  await db.query('INSERT INTO kv SELECT g, g * 10 FROM generate_series(1, 5) g')
  return db
}

async function cachedV(db: Db, id = 1, from = 'kv'): Promise<number | undefined> {
  const r = await db.query<{ v: number }>(`SELECT v FROM ${from} WHERE id = $1`, [id], { cache: true })
  return r.rows[0]?.v
}

async function rawV(b: Backend, id = 1, from = 'kv'): Promise<number | undefined> {
  const rows = await b.raw(`SELECT v FROM ${from} WHERE id = $1`, [id])
  return rows[0]?.v as number | undefined
}

/** Rejects when `p` has not settled within `ms` (a statement that never answers fails the test, not the run). */
function settled<T>(p: Promise<T>, ms = 3000): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`not settled within ${ms} ms`)), ms)
  })
  return Promise.race([p, late]).finally(() => clearTimeout(timer))
}

async function schemaOf(b: Backend): Promise<string> {
  return String((await b.raw('SELECT current_schema() AS s'))[0]?.s)
}

describe('multi-statement texts on pg', () => {
  test('a multi-statement text threw an uncaught TypeError inside node-postgres, and its query() never settled nor invalidated', async () => {
    const b = backend(pgBackend)
    const db = await kvDb(b)
    assert.equal(await cachedV(db), 10)
    const w = await settled(db.query('UPDATE kv SET v = 12 WHERE id = 1; UPDATE kv SET v = 13 WHERE id = 1'))
    assert.equal(w.rowCount, 1)
    assert.equal(await rawV(b), 13)
    assert.equal(await cachedV(db), 13)
    const signal = new AbortController().signal
    const r = await settled(db.query('SELECT 1 AS a; SELECT 2 AS b', [], { signal }))
    assert.deepEqual(r.rows, [{ b: 2 }])
    const p = db.poolStats()
    assert.equal(p.total, p.idle)
  })
})

describe('transactions and their AbortSignal', () => {
  test('pg: an aborted transaction signal skipped ROLLBACK, and the connection went back to the pool inside the open transaction', async () => {
    const b = backend(pgBackend)
    const db = await b.open({ max: 1 })
    await db.query('CREATE TABLE kv (id int PRIMARY KEY, v int NOT NULL)')
    await db.query('INSERT INTO kv VALUES (1, 10)')
    const ac = new AbortController()
    const err = await db
      .transaction(
        async (tx) => {
          await tx.query('UPDATE kv SET v = 11 WHERE id = 1')
          ac.abort()
          await tx.query('UPDATE kv SET v = 12 WHERE id = 1')
        },
        { signal: ac.signal },
      )
      .catch((e: unknown) => e)
    assert.ok(isHotpathError(err, 'E_ABORTED'), String(err))
    // the pool's only connection: a later autocommitted write must be committed, visible to others
    await db.query('UPDATE kv SET v = 20 WHERE id = 1')
    assert.equal(await rawV(b), 20)
    const p = db.poolStats()
    assert.deepEqual([p.total, p.idle, p.waiting], [1, 1, 0])
  })

  for (const make of BACKENDS) {
    test(`${make().name}: a signal aborted by the time the callback returned: pg skipped COMMIT and left the transaction open, PGlite committed (both now roll back)`, async () => {
      const b = backend(make)
      const db = await b.open({ max: 1 })
      await db.query('CREATE TABLE kv (id int PRIMARY KEY, v int NOT NULL)')
      await db.query('INSERT INTO kv VALUES (1, 10)')
      const ac = new AbortController()
      const err = await db
        .transaction(
          async (tx) => {
            await tx.query('UPDATE kv SET v = 11 WHERE id = 1')
            ac.abort()
          },
          { signal: ac.signal },
        )
        .catch((e: unknown) => e)
      assert.ok(isHotpathError(err, 'E_ABORTED'), String(err))
      assert.equal(await rawV(b), 10, 'the aborted transaction rolled back')
      await db.query('UPDATE kv SET v = 20 WHERE id = 1')
      assert.equal(await rawV(b), 20)
    })
  }
})

for (const make of BACKENDS) {
  describe(`name resolution on ${make().name}`, () => {
    test('a table created outside the client (a migration) after the client first read its name stayed resolved to nothing: its cached reads were never invalidated', async () => {
      const b = backend(make)
      const db = await b.open({ cache: memoryCache() })
      await assert.rejects(cachedV(db, 1, 'later'), (e: unknown) => isHotpathError(e, 'E_DB_QUERY'))
      await b.raw('CREATE TABLE later (id int PRIMARY KEY, v int NOT NULL)')
      await b.raw('INSERT INTO later VALUES (1, 10)')
      assert.equal(await cachedV(db, 1, 'later'), 10)
      assert.equal(await cachedV(db, 1, 'later'), 10)
      await db.query('UPDATE later SET v = 11 WHERE id = 1')
      assert.equal(await cachedV(db, 1, 'later'), 11)
      assert.deepEqual((await db.tablesOf('SELECT v FROM later')).reads, [`${await schemaOf(b)}.later`])
    })

    test('a read through a CTE is still cached, and invalidated by writes to the table behind it', async () => {
      const b = backend(make)
      const db = await kvDb(b)
      const q = 'WITH x AS (SELECT id, v FROM kv) SELECT v FROM x WHERE id = $1'
      assert.equal((await db.query(q, [1], { cache: true })).cached, false)
      assert.equal((await db.query(q, [1], { cache: true })).cached, true)
      await db.query('UPDATE kv SET v = 11 WHERE id = 1')
      const r = await db.query<{ v: number }>(q, [1], { cache: true })
      assert.deepEqual([r.cached, r.rows[0]?.v], [false, 11])
    })
  })
}

for (const make of BACKENDS) {
  describe(`foreign-key actions on ${make().name}`, () => {
    async function family(b: Backend): Promise<Db> {
      const db = await b.open({ cache: memoryCache() })
      await db.query('CREATE TABLE parent (id int PRIMARY KEY)')
      await db.query(
        'CREATE TABLE child (id int PRIMARY KEY, parent int REFERENCES parent ON DELETE CASCADE ON UPDATE SET NULL, v int)',
      )
      await db.query(
        'CREATE TABLE grandchild (id int PRIMARY KEY, child int REFERENCES child ON DELETE CASCADE, v int)',
      )
      await db.query('INSERT INTO parent VALUES (1), (2)')
      await db.query('INSERT INTO child VALUES (1, 1, 10), (2, 2, 20)')
      await db.query('INSERT INTO grandchild VALUES (1, 1, 100)')
      return db
    }
    const childParent = async (db: Db, id: number) =>
      (
        await db.query<{ parent: number | null }>('SELECT parent FROM child WHERE id = $1', [id], {
          cache: true,
        })
      ).rows[0]?.parent

    test('a DELETE on a parent table with ON DELETE CASCADE left cached reads of the child (and grandchild) stale', async () => {
      const b = backend(make)
      const db = await family(b)
      assert.equal(await cachedV(db, 1, 'child'), 10)
      assert.equal(await cachedV(db, 1, 'grandchild'), 100)
      await db.query('DELETE FROM parent WHERE id = 1')
      assert.equal(await cachedV(db, 1, 'child'), undefined)
      assert.equal(await cachedV(db, 1, 'grandchild'), undefined)
    })

    test('an UPDATE of a parent key with ON UPDATE SET NULL, inside a transaction, left cached reads of the child stale', async () => {
      const b = backend(make)
      const db = await family(b)
      assert.equal(await childParent(db, 2), 2)
      await db.transaction(async (tx) => {
        await tx.query('UPDATE parent SET id = 3 WHERE id = 2')
      })
      assert.equal(await childParent(db, 2), null)
    })

    test('TRUNCATE ... CASCADE on a parent left cached reads of the referencing tables stale', async () => {
      const b = backend(make)
      const db = await family(b)
      assert.equal(await cachedV(db, 1, 'grandchild'), 100)
      await db.query('TRUNCATE parent CASCADE')
      assert.equal(await cachedV(db, 1, 'grandchild'), undefined)
    })

    test('an INSERT into the parent still leaves cached reads of unrelated tables cached', async () => {
      const b = backend(make)
      const db = await kvDb(b)
      await db.query('CREATE TABLE parent (id int PRIMARY KEY)')
      await cachedV(db)
      await db.query('INSERT INTO parent VALUES (1)')
      assert.equal((await db.query('SELECT v FROM kv WHERE id = $1', [1], { cache: true })).cached, true)
    })
  })
}

for (const make of BACKENDS) {
  describe(`cached-read parameters and options on ${make().name}`, () => {
    test('a cached read with a bigint[] parameter threw "Do not know how to serialize a BigInt" (synchronously, once the statement was known)', async () => {
      const b = backend(make)
      const db = await kvDb(b)
      const q = 'SELECT v FROM kv WHERE id = ANY($1::int8[]) ORDER BY id'
      assert.deepEqual((await db.query(q, [[1n, 2n]], { cache: true })).rows, [{ v: 10 }, { v: 20 }])
      let p: Promise<{ rows: readonly unknown[]; cached: boolean }> | undefined
      assert.doesNotThrow(() => {
        p = db.query(q, [[1n, 3n]], { cache: true })
      })
      assert.deepEqual((await (p as NonNullable<typeof p>)).rows, [{ v: 10 }, { v: 30 }])
      const again = await db.query(q, [[1n, 2n]], { cache: true })
      assert.deepEqual([again.cached, again.rows], [true, [{ v: 10 }, { v: 20 }]])
    })

    test('a refused cache option on a miss of a known statement threw out of query() synchronously instead of rejecting', async () => {
      const b = backend(make)
      const db = await kvDb(b)
      await cachedV(db, 1)
      let p: Promise<unknown> | undefined
      assert.doesNotThrow(() => {
        p = db.query('SELECT v FROM kv WHERE id = $1', [2], { cache: { ttl: 0 } })
      })
      await assert.rejects(p as Promise<unknown>, RangeError)
    })
  })
}

for (const make of BACKENDS) {
  describe(`transaction handles on ${make().name}`, () => {
    test('a transaction handle kept past its transaction ran statements on a connection no longer its own, and its write was never invalidated', async () => {
      const b = backend(make)
      const db = await kvDb(b)
      assert.equal(await cachedV(db), 10)
      let kept: Transaction | undefined
      await db.transaction(async (tx) => {
        kept = tx
        await tx.query('SELECT 1')
      })
      await assert.rejects((kept as Transaction).query('UPDATE kv SET v = 11 WHERE id = 1'), (e: unknown) =>
        isHotpathError(e, 'E_CLOSED'),
      )
      assert.equal(await rawV(b), 10)
      assert.equal(await cachedV(db), await rawV(b))
    })

    test('a tx.query() the callback forgot to await ran after COMMIT, outside the transaction', async () => {
      const b = backend(make)
      const db = await kvDb(b)
      let late: Promise<unknown> | undefined
      await db.transaction(async (tx) => {
        // (the caught promise stands for the caller's floating one: no unhandled rejection here)
        late = tx.query('UPDATE kv SET v = 12 WHERE id = 1').catch((e: unknown) => e)
      })
      const err = await late
      assert.ok(isHotpathError(err, 'E_CLOSED'), String(err))
      assert.equal(await rawV(b), 10)
      const p = db.poolStats()
      assert.equal(p.waiting, 0)
    })
  })
}

describe('PGlite and pg parity', () => {
  test('rowCount of a SELECT after a comment or in parentheses was 0 on PGlite (pg: the rows returned)', async () => {
    const counts: Record<string, number[]> = {}
    for (const make of BACKENDS) {
      const b = backend(make)
      const db = await kvDb(b)
      counts[b.name] = [
        (await db.query('-- every row\nSELECT * FROM kv')).rowCount,
        (await db.query('/* ids */ SELECT id FROM kv WHERE id < $1', [3])).rowCount,
        (await db.query('(SELECT id FROM kv) UNION ALL (SELECT id FROM kv)')).rowCount,
        (await db.query('WITH u AS (UPDATE kv SET v = v WHERE id < 3 RETURNING id) SELECT count(*) FROM u'))
          .rowCount,
        (await db.query('UPDATE kv SET v = v WHERE id < 4 RETURNING id')).rowCount,
        (await db.query('-- touch\nUPDATE kv SET v = v')).rowCount,
      ]
    }
    assert.deepEqual(counts.pg, [5, 2, 10, 1, 3, 5])
    assert.deepEqual(counts.pglite, counts.pg)
  })
})

describe('savepoint texts inside a pg transaction', () => {
  test("a text starting with SAVEPOINT passed the check whatever followed: 'SAVEPOINT a; UPDATE ...' was never invalidated, 'SAVEPOINT a; COMMIT' committed early", async () => {
    const b = backend(pgBackend)
    const db = await kvDb(b)
    assert.equal(await cachedV(db), 10)
    await assert.rejects(
      db.transaction(async (tx) => {
        await tx.query('SAVEPOINT a; UPDATE kv SET v = 11 WHERE id = 1')
      }),
      TypeError,
    )
    assert.equal(await cachedV(db), await rawV(b))
    await assert.rejects(
      db.transaction(async (tx) => {
        await tx.query('SAVEPOINT a; COMMIT')
        await tx.query('UPDATE kv SET v = 12 WHERE id = 1')
        throw new Error('roll back')
      }),
    )
    assert.equal(await rawV(b), 10, 'the rolled-back transaction wrote nothing')
    // plain savepoints still work, one statement per text
    await db.transaction(async (tx) => {
      await tx.query('SAVEPOINT a')
      await tx.query('UPDATE kv SET v = 13 WHERE id = 1')
      await tx.query('ROLLBACK TO SAVEPOINT a')
      await tx.query('RELEASE SAVEPOINT a')
      await tx.query('UPDATE kv SET v = 14 WHERE id = 2')
    })
    assert.deepEqual([await cachedV(db, 1), await cachedV(db, 2)], [10, 14])
  })
})

describe('createDb options', () => {
  test('a monitor option that is not a monitor (or whose attach throws) failed in the client constructor after the backend and the Redis subscriber were opened, leaking them', async () => {
    const prefix = uniquePrefix('db-audit')
    const name = `audit-${prefix.split(':')[2]}`
    const redis = new Redis(REDIS_URL, { connectionName: name })
    const lite = await PGlite.create()
    const monitors = [
      {},
      {
        attach() {
          throw new Error('monitor refused')
        },
      },
    ]
    try {
      for (const monitor of monitors) {
        await assert.rejects(
          createDb({ connection: lite, redis, prefix, monitor: monitor as never }),
          /monitor/,
        )
      }
      // the version registry's subscriber is a duplicate of our client, so it carries our name
      await new Promise((r) => setTimeout(r, 200))
      const list = String(await redis.client('LIST'))
      const ours = list.split('\n').filter((l) => l.includes(`name=${name} `))
      assert.equal(ours.length, 1, ours.join('\n'))
      await assert.rejects(
        createDb({ connection: lite, monitor: {} as never }),
        /db option monitor must be a hotpath monitor/,
      )
    } finally {
      redis.disconnect()
      await lite.close()
      await cleanupPrefix(prefix)
    }
  })
})

describe('AbortSignal on pg', () => {
  test("a signal aborted after its statement had answered sent a cancel request anyway, which cancelled the next caller's statement on that connection", async () => {
    const pool = new pg.Pool({ connectionString: DATABASE_URL, max: 1 })
    // abort at the last moment: node-postgres emits 'drain' once the statement has answered,
    // before the promise continuation that stops listening to the signal
    let armed: AbortController | undefined
    pool.on('connect', (client) => {
      client.on('drain', () => {
        const ac = armed
        armed = undefined
        ac?.abort()
      })
    })
    const db = await createDb({ connection: pool })
    try {
      armed = new AbortController()
      const first = await db.query<{ n: number }>('SELECT 1 AS n', [], { signal: armed.signal })
      assert.deepEqual(first.rows, [{ n: 1 }])
      const second = await db.query<{ n: number }>('SELECT 2 AS n FROM pg_sleep(0.3)')
      assert.deepEqual(second.rows, [{ n: 2 }])
      const p = db.poolStats()
      assert.deepEqual([p.total, p.idle, p.waiting], [1, 1, 0])
    } finally {
      await db.close()
      await pool.end()
    }
  })
})

describe('createLoader', () => {
  test('prime() after the cached entry expired did nothing, so the next load() went to the batch function', async () => {
    const clock = new FakeClock()
    const batches: number[][] = []
    const loader = createLoader(
      async (keys: readonly number[]) => {
        batches.push([...keys])
        return keys.map((k) => `loaded ${k}`)
      },
      { clock, cache: { ttl: '1s' } },
    )
    loader.prime(1, 'primed')
    assert.equal(await loader.load(1), 'primed')
    clock.advance(2000)
    loader.prime(1, 'primed again')
    assert.equal(await loader.load(1), 'primed again')
    assert.deepEqual(batches, [])
    loader.prime(1, 'ignored: cached and fresh')
    assert.equal(await loader.load(1), 'primed again')
  })
})

describe('DDL seen by a second instance (pg, versions through Redis)', () => {
  for (const consistency of ['strict', 'eventual'] as const) {
    test(`${consistency}: a view redefined by another instance kept its old base tables here, so writes to the new ones never invalidated its cached reads`, async () => {
      const prefix = uniquePrefix('db-audit')
      const b = backend(pgBackend)
      try {
        const opts = { cache: memoryCache(), redis: REDIS_URL, prefix, consistency }
        const a = await b.open(opts)
        const other = await b.openAnother({ ...opts, cache: memoryCache() })
        await a.query('CREATE TABLE t1 (id int PRIMARY KEY, v int NOT NULL)')
        await a.query('CREATE TABLE t2 (id int PRIMARY KEY, v int NOT NULL)')
        await a.query('INSERT INTO t1 VALUES (1, 1)')
        await a.query('INSERT INTO t2 VALUES (1, 2)')
        await a.query('CREATE VIEW v AS SELECT id, v FROM t1')
        const seen = async (db: Db, want: number) =>
          until(async () => (await cachedV(db, 1, 'v')) === want, `cached read of v = ${want}`, 2000)
        await seen(other, 1)
        await a.query('CREATE OR REPLACE VIEW v AS SELECT id, v FROM t2')
        await seen(other, 2)
        await a.query('UPDATE t2 SET v = 3 WHERE id = 1')
        await seen(a, 3)
        await seen(other, 3)
      } finally {
        await cleanupPrefix(prefix)
      }
    })
  }
})

describe('close() while statements are on their way (pg)', () => {
  test("a statement accepted just before close() failed with an uncoded 500 ('Cannot use a pool after calling end on the pool') instead of E_CLOSED", async () => {
    const b = backend(pgBackend)
    const db = await kvDb(b)
    // new texts: parsed and resolved before they are sent, so close() overtakes them
    const read = db.query('SELECT v FROM kv WHERE id = $1 AND v > $2', [1, 0]).catch((e: unknown) => e)
    const write = db.query('UPDATE kv SET v = v + 1 WHERE id = $1', [2]).catch((e: unknown) => e)
    await db.close()
    for (const r of [await read, await write]) {
      if (r instanceof Error) assert.ok(isHotpathError(r, 'E_CLOSED'), String(r))
    }
  })
})

for (const make of BACKENDS) {
  describe(`db.invalidate() on ${make().name}`, () => {
    test('invalidate() of an unqualified name meant public.<name> whatever the search_path, so it did nothing for a table in another schema', async () => {
      const b = backend(make)
      const db = await kvDb(b)
      assert.equal(await cachedV(db), 10)
      await b.raw('UPDATE kv SET v = 11 WHERE id = 1') // a write made outside the app
      await db.invalidate(['kv'])
      assert.equal(await cachedV(db), 11)
      await b.raw('UPDATE kv SET v = 12 WHERE id = 1')
      await db.invalidate([`${await schemaOf(b)}.kv`])
      assert.equal(await cachedV(db), 12)
      await db.invalidate(['no_such_table']) // still accepted: nothing to resolve, nothing cached
    })
  })
}

describe('a PostgreSQL that closes connections (pg)', () => {
  test('a connection the server closed crashed the process: idle (no pool error listener) or checked out (no client error listener)', async () => {
    const b = backend(pgBackend)
    const db = await b.open({ max: 1 })
    const pid = (await db.query<{ p: number }>('SELECT pg_backend_pid() AS p')).rows[0]?.p
    await b.raw('SELECT pg_terminate_backend($1)', [pid])
    await until(() => db.poolStats().total === 0, 'the pool dropped the closed idle connection')
    assert.deepEqual((await db.query('SELECT 1 AS n')).rows, [{ n: 1 }])
    const sleep = `SELECT pg_sleep(5) -- ${await schemaOf(b)}`
    const runs = [
      () => db.query(sleep, [], { signal: new AbortController().signal }),
      () => db.transaction((tx) => tx.query(sleep)),
    ]
    for (const run of runs) {
      const failed = run().then(
        () => undefined,
        (e: unknown) => e,
      )
      await terminateWhenRunning(b, sleep)
      const err = await failed
      assert.ok(isHotpathError(err, 'E_DB_QUERY'), String(err))
      assert.deepEqual((await db.query('SELECT 2 AS n')).rows, [{ n: 2 }])
    }
    const h = await db.healthCheck().check(AbortSignal.timeout(5000))
    assert.equal(typeof h === 'object' && h.status, 'healthy')
  })
})

describe('the sql tag', () => {
  test("an apostrophe in a nested fragment's comment stopped its placeholders from being renumbered; a $1 in its dollar-quoted string was renumbered", () => {
    const inner = sql`id = ${1} -- don't
  AND v = ${10}`
    assert.equal(
      sql`SELECT * FROM kv WHERE v > ${0} AND ${inner}`.text,
      "SELECT * FROM kv WHERE v > $1 AND id = $2 -- don't\n  AND v = $3",
    )
    const block = sql`v = ${10} /* it's */ AND id = ${1}`
    assert.equal(sql`SELECT ${0} WHERE ${block}`.text, "SELECT $1 WHERE v = $2 /* it's */ AND id = $3")
    const dollar = sql`v = ${10} AND $q$costs $1$q$ <> ${'x'} AND $$it's$$ <> ${'y'}`
    assert.equal(
      sql`SELECT ${0}, ${dollar}`.text,
      "SELECT $1, v = $2 AND $q$costs $1$q$ <> $3 AND $$it's$$ <> $4",
    )
    const escaped = sql`v = ${10} AND E'it\\'s' <> ${'x'}`
    assert.equal(sql`SELECT ${0}, ${escaped}`.text, "SELECT $1, v = $2 AND E'it\\'s' <> $3")
  })

  for (const make of BACKENDS) {
    test(`${make().name}: a nested fragment with a comment binds each value to its own placeholder`, async () => {
      const b = backend(make)
      const db = await kvDb(b)
      const cond = sql`id = ${2} -- the row's id
        AND v = ${20}`
      const r = await db.query<{ v: number }>(sql`SELECT v FROM kv WHERE v > ${0} AND ${cond}`)
      assert.deepEqual(r.rows, [{ v: 20 }])
    })
  }
})

describe('a statement that failed FATAL (pg)', () => {
  test("its connection, which the server had closed, went back to the pool, and the next statement failed with 'Connection terminated unexpectedly'", async () => {
    const b = backend(pgBackend)
    const db = await b.open({ max: 1 })
    const sleep = `SELECT pg_sleep(5) -- fatal ${await schemaOf(b)}`
    const signal = new AbortController().signal
    for (let i = 0; i < 6; i++) {
      const failed = (i % 2 === 0 ? db.query(sleep) : db.query(sleep, [], { signal })).then(
        () => undefined,
        (e: unknown) => e,
      )
      await terminateWhenRunning(b, sleep)
      const err = await failed
      assert.ok(err instanceof DbQueryError && err.sqlState === '57P01', String(err))
      assert.equal(err.statusCode, 503)
      // at once: the pool's only connection must be a new one
      assert.deepEqual((await db.query('SELECT 2 AS n')).rows, [{ n: 2 }])
    }
  })
})
