import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { type Cache, createCache } from '../../../src/cache/index.js'
import { createDb, type Db, DbQueryError, sql } from '../../../src/db/index.js'
import { isHotpathError } from '../../../src/errors.js'
import { createMonitor } from '../../../src/metrics/index.js'
import { FakeClock } from '../../../src/time.js'
import { BACKENDS, type Backend, memoryCache, until } from './support.js'

async function v(db: Db, id = 1, from = 'kv'): Promise<{ v: number | undefined; cached: boolean }> {
  const r = await db.query<{ v: number }>(`SELECT v FROM ${from} WHERE id = $1`, [id], { cache: true })
  return { v: r.rows[0]?.v, cached: r.cached }
}

for (const make of BACKENDS) {
  describe(`cached reads on ${make().name}`, () => {
    let b: Backend
    before(() => {
      b = make()
    })
    after(async () => {
      await b.close()
    })

    async function fresh(): Promise<Db> {
      const db = await b.open({ cache: memoryCache() })
      await db.query('CREATE TABLE kv (id int PRIMARY KEY, v int NOT NULL)')
      await db.query('INSERT INTO kv SELECT g, g * 10 FROM generate_series(1, 5) g')
      return db
    }

    test('a repeated read is served from the cache without reaching the database', async () => {
      const db = await fresh()
      let reached = 0
      db.on('query', () => reached++)
      assert.deepEqual(await v(db), { v: 10, cached: false })
      assert.deepEqual(await v(db), { v: 10, cached: true })
      assert.deepEqual(await v(db, 2), { v: 20, cached: false })
      assert.equal(reached, 2)
      const s = db.stats()
      assert.equal(s.cachedReads, 3)
      assert.equal(s.cacheHits, 1)
      const row = db.statements().find((x) => x.text.startsWith('SELECT v FROM kv'))
      assert.equal(row?.cacheHits, 1)
    })

    test('regression: a TTL of 0 (cacheTtl, cache.ttl) was refused only at the first cached read, as "call options.ttl"', async () => {
      await assert.rejects(
        b.open({ cache: memoryCache(), cacheTtl: 0 }),
        /db option cacheTtl must be greater than 0/,
      )
      const db = await fresh()
      await assert.rejects(
        db.query('SELECT v FROM kv WHERE id = 1', [], { cache: { ttl: 0 } }),
        /query option cache.ttl must be greater than 0/,
      )
    })

    test('the cache counts each miss of a cached read once (regression: twice, halving the hit ratio)', async () => {
      const cache = memoryCache()
      const db = await b.open({ cache })
      await db.query('CREATE TABLE kv (id int PRIMARY KEY, v int NOT NULL)')
      await db.query('INSERT INTO kv SELECT g, g * 10 FROM generate_series(1, 5) g')
      const misses: string[] = []
      cache.on('miss', (e) => misses.push(e.tier))
      for (const id of [1, 2, 3, 1, 2]) await v(db, id)
      const l1 = cache.stats().l1
      assert.equal(l1.misses, 3)
      assert.equal(l1.hits, 2)
      assert.equal(l1.hitRatio, 0.4)
      assert.deepEqual(misses, ['l1', 'l1', 'l1'], 'one miss event per miss')
    })

    test('regression: callers that joined a cached read whose statement failed were counted in stats().cacheHits', async () => {
      const db = await fresh()
      await db.query('UPDATE kv SET v = 0 WHERE id = 1')
      const read = () => db.query('SELECT 1 / v AS x FROM kv WHERE id = $1', [1], { cache: true })
      const outcomes = await Promise.allSettled([read(), read(), read()])
      assert.deepEqual(
        outcomes.map((o) => o.status),
        ['rejected', 'rejected', 'rejected'],
      )
      assert.deepEqual(await v(db, 2), { v: 20, cached: false })
      assert.deepEqual(await v(db, 2), { v: 20, cached: true })
      const s = db.stats()
      assert.equal(s.cachedReads, 5)
      assert.equal(s.cacheHits, 1, 'one read was answered from the cache')
    })

    test("regression: the monitor's hotpath_cache_requests_total missed every cached-read L1 hit (getSync emits no event)", async () => {
      const monitor = createMonitor({ enabled: false, runtime: false, env: {}, onWarning: () => {} })
      const cache = createCache({ name: 'dbm', monitor, earlyRefreshBeta: 0 })
      const db = await b.open({ cache })
      await db.query('CREATE TABLE kv (id int PRIMARY KEY, v int NOT NULL)')
      await db.query('INSERT INTO kv SELECT g, g * 10 FROM generate_series(1, 5) g')
      for (const id of [1, 2, 3, 1, 2]) await v(db, id)
      const l1 = cache.stats().l1
      assert.deepEqual({ hits: l1.hits, misses: l1.misses }, { hits: 2, misses: 3 })
      const text = await monitor.metrics()
      const series = (result: string) =>
        Number(
          new RegExp(
            `hotpath_cache_requests_total\\{cache="dbm",tier="l1",result="${result}"\\} (\\d+)`,
          ).exec(text)?.[1] ?? 0,
        )
      try {
        assert.deepEqual({ hits: series('hit'), misses: series('miss') }, { hits: 2, misses: 3 })
      } finally {
        monitor.close()
      }
    })

    test("cached rows are frozen so one caller cannot change another caller's result", async () => {
      const db = await fresh()
      await v(db)
      const r = await db.query<{ v: number }>('SELECT v FROM kv WHERE id = $1', [1], { cache: true })
      assert.throws(() => {
        ;(r.rows[0] as { v: number }).v = 99
      }, TypeError)
    })

    test('raw INSERT, UPDATE, DELETE and TRUNCATE invalidate reads of their table', async () => {
      const db = await fresh()
      const count = async () =>
        (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM kv', [], { cache: true })).rows[0]?.n
      assert.equal(await count(), 5)
      await db.query('INSERT INTO kv VALUES (6, 60)')
      assert.equal(await count(), 6)
      await db.query(sql`UPDATE kv SET v = ${11} WHERE id = ${1}`)
      assert.equal((await v(db)).v, 11)
      await db.query('DELETE FROM kv WHERE id = 6')
      assert.equal(await count(), 5)
      await db.query('TRUNCATE kv')
      assert.equal(await count(), 0)
    })

    test('a write inside a CTE invalidates its target', async () => {
      const db = await fresh()
      await v(db)
      await db.query('WITH u AS (UPDATE kv SET v = 12 WHERE id = 1 RETURNING id) SELECT count(*) FROM u')
      assert.deepEqual(await v(db), { v: 12, cached: false })
    })

    test('views are expanded to their base tables, both ways', async () => {
      const db = await fresh()
      await db.query('CREATE VIEW kv_view AS SELECT id, v FROM kv WHERE v >= 0')
      await db.query('CREATE VIEW kv_view2 AS SELECT * FROM kv_view')
      assert.equal((await v(db, 1, 'kv_view2')).v, 10)
      assert.equal((await v(db, 1, 'kv_view2')).cached, true)
      await db.query('UPDATE kv SET v = 13 WHERE id = 1')
      assert.deepEqual(await v(db, 1, 'kv_view2'), { v: 13, cached: false })
      assert.equal((await v(db, 1)).v, 13)
      await db.query('UPDATE kv_view SET v = 14 WHERE id = 1')
      assert.deepEqual(await v(db, 1), { v: 14, cached: false })
      const t = await db.tablesOf('SELECT * FROM kv_view2')
      assert.equal(t.reads.length, 1)
      assert.match(t.reads[0] ?? '', /\.kv$/)
    })

    test('writes in a transaction are invalidated at commit; a rollback invalidates nothing', async () => {
      const db = await fresh()
      await v(db)
      const before = db.stats().invalidations
      await db
        .transaction(async (tx) => {
          await tx.query('UPDATE kv SET v = 15 WHERE id = 1')
          throw new Error('abort')
        })
        .catch(() => {})
      assert.equal(db.stats().invalidations, before)
      assert.deepEqual(await v(db), { v: 10, cached: true })
      await db.transaction(async (tx) => {
        await tx.query('UPDATE kv SET v = 16 WHERE id = 1')
        const inside = await tx.query<{ v: number }>('SELECT v FROM kv WHERE id = 1', [], { cache: true })
        assert.deepEqual(inside.rows, [{ v: 16 }], 'reads inside the transaction see its writes, uncached')
      })
      assert.equal(db.stats().invalidations, before + 1)
      assert.deepEqual(await v(db), { v: 16, cached: false })
    })

    test('DDL invalidates every cached read', async () => {
      const db = await fresh()
      await v(db)
      await db.query('ALTER TABLE kv ADD COLUMN w int')
      assert.equal((await v(db)).cached, false)
    })

    test('a write to a partition invalidates reads of the partitioned table', async () => {
      const db = await fresh()
      await db.query('CREATE TABLE m (id int, k int) PARTITION BY RANGE (id)')
      await db.query('CREATE TABLE m1 PARTITION OF m FOR VALUES FROM (0) TO (100)')
      const n = async () =>
        (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM m', [], { cache: true })).rows[0]?.n
      assert.equal(await n(), 0)
      await db.query('INSERT INTO m1 VALUES (1, 1)')
      assert.equal(await n(), 1)
    })

    test('a write cannot be cached; a locking read or an unparsable one runs uncached', async () => {
      const db = await fresh()
      await assert.rejects(
        () => db.query('UPDATE kv SET v = 1 WHERE id = 1', [], { cache: true }),
        (e: unknown) => (e as { code?: string }).code === 'E_DB_UNCACHEABLE',
      )
      const reasons: string[] = []
      db.on('uncacheable', (e) => reasons.push(e.reason))
      await db.query('SELECT v FROM kv WHERE id = 1 FOR UPDATE', [], { cache: true })
      await assert.rejects(() => db.query('SELEC v FROM kv', [], { cache: true }), DbQueryError)
      assert.equal(reasons.length, 2)
      assert.match(reasons[1] ?? '', /parser could not read/)
      assert.equal(db.stats().cachedReads, 0)
    })

    test('cache types give TTLs per query class', async () => {
      const clock = new FakeClock()
      const cache = createCache({
        clock,
        earlyRefreshBeta: 0,
        memory: { maxEntries: 100, maxBytes: 1_000_000 },
        types: { user: { ttl: '60s' }, config: { ttl: '600s' } },
      })
      const db = await b.open({ cache })
      await db.query('CREATE TABLE kv (id int PRIMARY KEY, v int NOT NULL)')
      await db.query('INSERT INTO kv VALUES (1, 1)')
      await db.query('SELECT v FROM kv WHERE id = 1', [], { cache: { type: 'user' } })
      await db.query('SELECT v FROM kv WHERE id = 1 AND true', [], { cache: { type: 'config' } })
      clock.advance(61_000)
      assert.equal(
        (await db.query('SELECT v FROM kv WHERE id = 1', [], { cache: { type: 'user' } })).cached,
        false,
      )
      assert.equal(
        (await db.query('SELECT v FROM kv WHERE id = 1 AND true', [], { cache: { type: 'config' } })).cached,
        true,
      )
      await cache.close()
    })
  })
}

describe('the stale refill race (drizzle#5828) on pg', () => {
  test('a read that started before a write commits never serves its older result afterwards', async () => {
    const b = BACKENDS[0]?.() as Backend
    try {
      const db = await b.open({ cache: memoryCache() })
      await db.query('CREATE TABLE kv (id int PRIMARY KEY, v int NOT NULL)')
      await db.query('INSERT INTO kv VALUES (1, 10)')
      const slowRead = 'SELECT v, pg_sleep(0.3)::text AS s FROM kv WHERE id = $1'
      const started = db.query<{ v: number }>(slowRead, [1], { cache: true })
      // wait until the slow read holds its snapshot, then commit a write underneath it
      await new Promise((r) => setTimeout(r, 100))
      await db.query('UPDATE kv SET v = 20 WHERE id = 1')
      const joined = await db.query<{ v: number }>(slowRead, [1], { cache: true })
      assert.equal(joined.rows[0]?.v, 20, 'a read issued after the commit does not join the older load')
      assert.equal((await started).rows[0]?.v, 10, 'the old read saw the old snapshot')
      const after = await db.query<{ v: number }>(slowRead, [1], { cache: true })
      assert.equal(after.rows[0]?.v, 20, 'the old result was not put back into the cache')
    } finally {
      await b.close()
    }
  })
})

describe("a cached miss and the cache's hard timeout on pg", () => {
  const running = async (b: Backend, marker: string) =>
    (
      await b.raw(
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE state = 'active' AND query LIKE $1 AND query NOT LIKE '%pg_stat_activity%'",
        [`%${marker}%`],
      )
    )[0]?.n as number
  const timedCache = () =>
    createCache({
      memory: { maxEntries: 100, maxBytes: 1_000_000 },
      earlyRefreshBeta: 0,
      timeouts: { hard: '200ms' },
    })

  /** Runs `fn` with a pg client over `cache`, then closes both. */
  async function withDb(cache: Cache, fn: (db: Db, b: Backend) => Promise<void>): Promise<void> {
    const b = BACKENDS[0]?.() as Backend
    try {
      await fn(await b.open({ cache }), b)
    } finally {
      await cache.close()
      await b.close()
    }
  }

  test('with a signal, the hard timeout cancels the statement on the server', () =>
    withDb(timedCache(), async (db, b) => {
      const p = db.query("SELECT pg_sleep(5), 'hard-with-signal' AS m", [], {
        cache: true,
        signal: new AbortController().signal,
      })
      await assert.rejects(p, (e: unknown) => isHotpathError(e, 'E_LOADER_TIMEOUT'))
      await until(
        async () => (await running(b, 'hard-with-signal')) === 0,
        'the statement to be cancelled',
        2000,
      )
    }))

  test('without a signal, the caller gets the timeout and the statement runs to its end (no signal is made)', () =>
    withDb(timedCache(), async (db, b) => {
      const p = db.query("SELECT pg_sleep(0.8), 'hard-no-signal' AS m", [], { cache: true })
      await assert.rejects(p, (e: unknown) => isHotpathError(e, 'E_LOADER_TIMEOUT'))
      assert.equal(await running(b, 'hard-no-signal'), 1, 'still running after the timeout')
      await until(async () => (await running(b, 'hard-no-signal')) === 0, 'the statement to end', 3000)
      const again = await db.query<{ m: string }>("SELECT 'after' AS m", [], { cache: true })
      assert.equal(again.rows[0]?.m, 'after')
    }))

  test('a signal aborts the wait of a cached miss; the load goes on for the callers that joined it', () =>
    withDb(memoryCache(), async (db) => {
      const text = "SELECT pg_sleep(0.3), 'joined' AS m"
      const ac = new AbortController()
      const first = db.query<{ m: string }>(text, [], { cache: true, signal: ac.signal })
      const second = db.query<{ m: string }>(text, [], { cache: true })
      setTimeout(() => ac.abort(), 50)
      await assert.rejects(first, (e: unknown) => isHotpathError(e, 'E_ABORTED'))
      assert.equal((await second).rows[0]?.m, 'joined')
      assert.equal(db.stats().cacheMisses, 1, 'one load for both callers')
      assert.equal((await db.query(text, [], { cache: true })).cached, true)
    }))
})

describe('writes made outside the app (pg, opt-in triggers + LISTEN/NOTIFY)', () => {
  test('a write from another connection invalidates cached reads of the watched table', async () => {
    const b = BACKENDS[0]?.() as Backend
    try {
      const db = await b.open({ cache: memoryCache() })
      await db.query('CREATE TABLE kv (id int PRIMARY KEY, v int NOT NULL)')
      await db.query('INSERT INTO kv VALUES (1, 10)')
      await db.watchExternalWrites(['kv'])
      assert.equal((await v(db)).v, 10)
      assert.equal((await v(db)).cached, true)
      await b.raw('UPDATE kv SET v = 11 WHERE id = 1')
      await until(async () => (await v(db)).v === 11, 'the outside write to be heard')
      await assert.rejects(
        createDb().then(async (lite) => {
          try {
            await lite.watchExternalWrites(['kv'])
          } finally {
            await lite.close()
          }
        }),
        /needs PostgreSQL/,
      )
    } finally {
      await b.close()
    }
  })
})
