import assert from 'node:assert/strict'
import { after, describe, test } from 'node:test'
import { isHotpathError } from '../../../src/errors.js'
import { createMonitor } from '../../../src/metrics/index.js'
import { type Backend, pgBackend, pgliteBackend } from './support.js'

describe('pool, statement and slow-query insight', () => {
  const backends: Backend[] = []
  after(async () => {
    for (const b of backends) await b.close()
  })

  for (const make of [pgBackend, pgliteBackend]) {
    test(`${make().name}: every statement over the threshold gets a plan`, async () => {
      const b = make()
      backends.push(b)
      const db = await b.open({ slowQuery: { threshold: 0 } })
      await db.query('CREATE TABLE t (id int PRIMARY KEY, v int)')
      await db.query('INSERT INTO t SELECT g, g FROM generate_series(1, 100) g')
      const events: string[] = []
      db.on('slow', (q) => events.push(q.text))
      await db.query('SELECT * FROM t WHERE id = $1', [5])
      await db.query('UPDATE t SET v = v + 1 WHERE id = $1', [5])
      await db.plansSettled()
      const slow = db
        .slowQueries()
        .filter((q) => !q.text.startsWith('CREATE') && !q.text.startsWith('WITH RECURSIVE'))
      const select = slow.find((q) => q.text.startsWith('SELECT * FROM t'))
      const update = slow.find((q) => q.text.startsWith('UPDATE t'))
      assert.ok(select && update, 'both statements were logged')
      assert.equal(select.planError, undefined)
      const plan = (select.plan as Array<{ Plan: { 'Node Type': string } }>)[0]?.Plan
      assert.ok(plan && typeof plan['Node Type'] === 'string', 'a JSON plan was captured')
      assert.ok(
        update.plan !== undefined,
        'writes get a plan too (EXPLAIN without ANALYZE does not run them)',
      )
      const v = await db.query<{ v: number }>('SELECT v FROM t WHERE id = 5')
      assert.equal(v.rows[0]?.v, 6, 'capturing the plan did not run the update a second time')
      assert.ok(events.includes('SELECT * FROM t WHERE id = $1'))
    })
  }

  test('sampled EXPLAIN ANALYZE is used for reads only', async () => {
    const b = pgliteBackend()
    backends.push(b)
    const db = await b.open({ slowQuery: { threshold: 0, analyzeSampleRate: 1 } })
    await db.query('CREATE TABLE t (id int)')
    await db.query('SELECT * FROM t')
    await db.query('INSERT INTO t VALUES (1)')
    await db.plansSettled()
    const read = db.slowQueries().find((q) => q.text === 'SELECT * FROM t')
    const write = db.slowQueries().find((q) => q.text.startsWith('INSERT'))
    assert.equal(read?.analyzed, true)
    assert.equal(write?.analyzed, false)
    assert.equal((await db.query<{ n: number }>('SELECT count(*)::int AS n FROM t')).rows[0]?.n, 1)
  })

  test('statements under the threshold are not logged', async () => {
    const b = pgliteBackend()
    backends.push(b)
    const db = await b.open({ slowQuery: { threshold: '10s' } })
    await db.query('SELECT 1')
    assert.equal(db.slowQueries().length, 0)
  })

  test('regression: callers failing with E_ACQUIRE_TIMEOUT between checks read healthy (degraded needed a queue longer than the pool at the check); the next check says degraded, the one after healthy', async () => {
    const b = pgBackend()
    backends.push(b)
    const db = await b.open({ max: 1, acquireTimeout: '100ms' })
    const hc = db.healthCheck()
    const status = async () => {
      const h = await hc.check(AbortSignal.timeout(5000))
      return typeof h === 'object' ? h : undefined
    }
    assert.equal((await status())?.status, 'healthy')
    const held = db.query('SELECT pg_sleep(0.4)')
    const late = await db.query('SELECT 1').then(
      () => undefined,
      (e: unknown) => e,
    )
    assert.ok(isHotpathError(late, 'E_ACQUIRE_TIMEOUT'), String(late))
    await held
    const h = await status()
    assert.equal(h?.status, 'degraded')
    assert.equal(
      (h?.details as { acquireTimeoutsSinceLastCheck?: number } | undefined)?.acquireTimeoutsSinceLastCheck,
      1,
    )
    assert.equal((await status())?.status, 'healthy')
  })

  test('the monitor exports pool, acquire-wait and statement figures', async () => {
    const b = pgBackend()
    backends.push(b)
    const monitor = createMonitor({ runtime: false } as never)
    const db = await b.open({ monitor, name: 'maindb' })
    await Promise.all(Array.from({ length: 10 }, () => db.query('SELECT pg_sleep(0.01)')))
    monitor.addHealthCheck(db.healthCheck())
    monitor.collect()
    const text = await monitor.metrics()
    assert.match(text, /hotpath_db_queries_total\{name="maindb"\} 10/)
    assert.match(text, /hotpath_db_pool_waiting\{name="maindb"\} 0/)
    assert.match(text, /hotpath_db_pool_acquire_wait_p99_seconds\{name="maindb"\}/)
    assert.match(text, /hotpath_db_pool_empty_acquires\{name="maindb"\} [1-9]/)
    const health = await monitor.health()
    assert.equal(health.status, 'healthy')
    monitor.close()
  })
})
