import assert from 'node:assert/strict'
import { test } from 'node:test'
import { type Cache, createCache } from '../../../src/cache/index.js'
import { resolveDbOptions } from '../../../src/db/options.js'

test('defaults', () => {
  const o = resolveDbOptions()
  assert.equal(o.name, 'db')
  assert.equal(o.max, 10)
  assert.equal(o.cacheTtlMs, 60_000)
  assert.equal(o.slowQuery?.thresholdMs, 1000)
  assert.equal(o.slowQuery?.explain, true)
  assert.equal(o.strict, false)
  assert.ok(Object.isFrozen(o))
})

test('unknown options are refused with the closest name', () => {
  assert.throws(() => resolveDbOptions({ cahce: {} } as never), /did you mean "cache"/i)
  assert.throws(
    () => resolveDbOptions({ slowQuery: { treshold: '1s' } } as never),
    /did you mean "threshold"/i,
  )
})

test('bad values name the option and the value', () => {
  assert.throws(() => resolveDbOptions({ max: 0 }), /max must be a positive integer; received 0/)
  assert.throws(() => resolveDbOptions({ connection: 'mysql://x' }), /postgres:\/\/ URL/)
  assert.throws(() => resolveDbOptions({ consistency: 'weak' as never }), /'eventual' or 'strict'/)
  assert.throws(() => resolveDbOptions({ versionTimeout: -1 }), /versionTimeout/)
  assert.equal(resolveDbOptions({ versionTimeout: '1s' }).versionTimeoutMs, 1000)
  assert.throws(() => resolveDbOptions({ slowQuery: { analyzeSampleRate: 2 } }), /from 0 to 1/)
  assert.throws(() => resolveDbOptions({ cacheTtl: '5 years' as never }), /cacheTtl/)
})

test('a cache with a Redis tier needs shared table versions', async () => {
  // the option check only reads hasL2: a stand-in avoids opening a Redis connection in a unit test
  const cache = { getOrSet: () => undefined, hasL2: true } as unknown as Cache
  assert.throws(() => resolveDbOptions({ cache }), /redis is required/)
  const memoryOnly = createCache({ memory: { maxEntries: 10, maxBytes: 10_000 } })
  assert.equal(resolveDbOptions({ cache: memoryOnly }).cache, memoryOnly)
  await memoryOnly.close()
})
