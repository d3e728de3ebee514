/**
 * Regression tests from the audit26 review of the PGlite driver's queue: each test is named for
 * what broke. Each opens its own in-memory PGlite.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { createDb } from '../../../src/db/index.js'
import { isHotpathError } from '../../../src/errors.js'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

test('regression: closing a PGlite db while a transaction held the connection failed the transaction at COMMIT (uncoded "PGlite is closed") and ran the statement queued behind it on the closed PGlite', async () => {
  const db = await createDb({ acquireTimeout: '5s' })
  await db.query('CREATE TABLE t (n int)')
  let go!: () => void
  const gate = new Promise<void>((r) => {
    go = r
  })
  const tx = db.transaction(async (t) => {
    await t.query('INSERT INTO t VALUES (1)')
    await gate
    return 'committed'
  })
  await sleep(30)
  const queued = db.query('SELECT count(*)::int AS n FROM t')
  const queuedOutcome = queued.then(
    () => 'ran',
    (err: unknown) => err,
  )
  await sleep(30)
  assert.equal(db.stats().pool.waiting, 1)
  const closed = db.close()
  await sleep(30)
  go()
  assert.equal(await tx, 'committed')
  const err = await queuedOutcome
  assert.ok(isHotpathError(err, 'E_CLOSED'), String(err))
  await closed
  assert.equal(db.stats().pool.waiting, 0)
})

test('regression: acquireTimeout 0 failed every PGlite statement queued behind another at once with E_ACQUIRE_TIMEOUT (on pg, 0 waits without a limit)', async () => {
  const db = await createDb({ acquireTimeout: 0 })
  let go!: () => void
  const gate = new Promise<void>((r) => {
    go = r
  })
  const tx = db.transaction(async (t) => {
    await t.query('SELECT 1')
    await gate
    return 'done'
  })
  await sleep(30)
  const queued = db.query('SELECT 2 AS n').then(
    (r) => r.rows,
    (err: unknown) => err,
  )
  await sleep(100)
  assert.equal(db.stats().pool.waiting, 1)
  go()
  assert.equal(await tx, 'done')
  assert.deepEqual(await queued, [{ n: 2 }])
  assert.equal(db.stats().pool.acquireTimeouts, 0)
  await db.close()
})
