/**
 * On pg, a cached read's miss is answered before its result is stored in L1; the store runs in
 * the loop's check phase (src/cache/deferred-store.ts). What must hold meanwhile: a repeat read
 * joins the finished load instead of running the statement again, a deletion in between is not
 * undone by the late store, and the TTL counts from the load, not from the store. On PGlite
 * the store is made at once.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { createCache } from '../../../src/cache/index.js'
import type { Db } from '../../../src/db/index.js'
import { FakeClock } from '../../../src/time.js'
import { type Backend, memoryCache, pgBackend, pgliteBackend } from './support.js'

const checkPhase = () => new Promise<void>((resolve) => setImmediate(resolve))

async function table(db: Db): Promise<void> {
  await db.query('CREATE TABLE kv (id int PRIMARY KEY, v int NOT NULL)')
  await db.query('INSERT INTO kv SELECT g, g * 10 FROM generate_series(1, 5) g')
}

describe('a cached-read miss stored after its answer (pg)', () => {
  let b: Backend
  before(() => {
    b = pgBackend()
  })
  after(async () => {
    await b.close()
  })

  test('the entry reaches L1 in the check phase; a read before that joins the finished load', async () => {
    const cache = memoryCache()
    const db = await b.open({ cache })
    await table(db)
    let statements = 0
    db.on('query', () => statements++)
    const first = await db.query('SELECT v FROM kv WHERE id = $1', [1], { cache: true })
    assert.equal(first.cached, false)
    assert.equal(cache.stats().l1.entries, 0, 'not stored before the caller went on')
    const again = await db.query('SELECT v FROM kv WHERE id = $1', [1], { cache: true })
    assert.equal(again.cached, true)
    assert.deepEqual(again.rows, [{ v: 10 }])
    assert.equal(statements, 1, 'the repeat joined the load: one statement')
    await checkPhase()
    assert.equal(cache.stats().l1.entries, 1)
    assert.equal((await db.query('SELECT v FROM kv WHERE id = $1', [1], { cache: true })).cached, true)
    assert.equal(statements, 1)
    await cache.close()
  })

  test('a tag deleted between the answer and the store is not undone by the store', async () => {
    const cache = memoryCache()
    const db = await b.open({ cache })
    await table(db)
    const read = () => db.query('SELECT v FROM kv WHERE id = $1', [2], { cache: { tags: ['kv-2'] } })
    assert.equal((await read()).cached, false)
    await cache.deleteByTag('kv-2')
    await checkPhase()
    assert.equal(cache.stats().l1.entries, 0, 'the late store was dropped')
    assert.equal((await read()).cached, false, 'read from the database again')
    await checkPhase()
    assert.equal((await read()).cached, true)
    await cache.close()
  })

  test('its TTL counts from the load, not from the store', async () => {
    const clock = new FakeClock()
    const cache = createCache({
      clock,
      earlyRefreshBeta: 0,
      memory: { maxEntries: 100, maxBytes: 1_000_000 },
    })
    const db = await b.open({ cache })
    await table(db)
    const read = () => db.query('SELECT v FROM kv WHERE id = $1', [3], { cache: { ttl: '60s' } })
    assert.equal((await read()).cached, false)
    clock.advance(61_000)
    await checkPhase()
    assert.equal((await read()).cached, false, 'stored 61 s after its load with a 60 s TTL: expired')
    await cache.close()
  })

  test('a cache closed before the store takes nothing and throws nothing', async () => {
    const cache = memoryCache()
    const db = await b.open({ cache })
    await table(db)
    assert.equal((await db.query('SELECT v FROM kv WHERE id = $1', [4], { cache: true })).cached, false)
    await cache.close()
    await checkPhase()
    assert.equal(cache.stats().l1.entries, 0)
  })
})

describe('a cached-read miss on PGlite', () => {
  let b: Backend
  before(() => {
    b = pgliteBackend()
  })
  after(async () => {
    await b.close()
  })

  test('is stored before its caller goes on (reads there can follow each other with no check phase between)', async () => {
    const cache = memoryCache()
    const db = await b.open({ cache })
    await table(db)
    assert.equal((await db.query('SELECT v FROM kv WHERE id = $1', [1], { cache: true })).cached, false)
    assert.equal(cache.stats().l1.entries, 1)
    await cache.close()
  })
})
