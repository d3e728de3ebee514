/**
 * Regression tests from the dbaudit review of argument checks: each test is named for what broke.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { createDb } from '../../../src/db/index.js'
import { resolveDbOptions } from '../../../src/db/options.js'

test('regression: versionTimeout 0 was accepted, and then every version read timed out at once, so cached reads always bypassed the cache', () => {
  assert.throws(
    () => resolveDbOptions({ versionTimeout: 0 }),
    (err: unknown) =>
      err instanceof RangeError && /db option versionTimeout must be greater than 0/.test(err.message),
  )
})

test('regression: a redis option that is not an ioredis client failed in createDb with "c.defineCommand is not a function"', () => {
  assert.throws(
    () => resolveDbOptions({ redis: {} as never }),
    (err: unknown) =>
      err instanceof TypeError && /db option redis must be a URL or an ioredis client/.test(err.message),
  )
})

test('regression: a query signal that is not an AbortSignal was ignored (uncached) or failed with "signal?.addEventListener is not a function" (cached); transaction() without a function sent BEGIN and failed with "fn is not a function", and null options with a property read on null', async () => {
  const db = await createDb()
  try {
    await assert.rejects(
      db.query('SELECT 1', [], { signal: 'x' as never }),
      (err: unknown) =>
        err instanceof TypeError && /query option signal must be an AbortSignal/.test(err.message),
    )
    let sent = 0
    db.on('query', () => sent++)
    await assert.rejects(
      db.transaction(undefined as never),
      (err: unknown) =>
        err instanceof TypeError && /transaction\(fn\): fn must be a function/.test(err.message),
    )
    await assert.rejects(
      db.transaction(async () => 1, null as never),
      (err: unknown) => err instanceof TypeError && /transaction options must be an object/.test(err.message),
    )
    assert.equal(sent, 0, 'nothing was sent')
  } finally {
    await db.close()
  }
})
