import assert from 'node:assert/strict'
import { test } from 'node:test'
import { createLoader } from '../../../src/db/index.js'
import { FakeClock } from '../../../src/time.js'

function recorder<V>(fn: (k: number) => V | Error = (k) => (k * 10) as V) {
  const calls: number[][] = []
  const batch = async (keys: readonly number[]) => {
    calls.push([...keys])
    return keys.map(fn)
  }
  return { calls, batch }
}

test('64 loads in one tick become one call of the batch function', async () => {
  const r = recorder<number>()
  const loader = createLoader(r.batch)
  const values = await Promise.all(Array.from({ length: 64 }, (_, i) => loader.load(i)))
  assert.equal(r.calls.length, 1)
  assert.equal(r.calls[0]?.length, 64)
  assert.deepEqual(values.slice(0, 3), [0, 10, 20])
  const s = loader.stats()
  assert.equal(s.batches, 1)
  assert.equal(s.batchSize.maxMs, 64)
})

test('loads after an await in the same chain still join the batch (DataLoader scheduling)', async () => {
  const r = recorder<number>()
  const loader = createLoader(r.batch)
  const a = loader.load(1)
  const b = Promise.resolve().then(() => loader.load(2))
  await Promise.all([a, b])
  assert.deepEqual(r.calls, [[1, 2]])
})

test('maxBatchSize splits a batch', async () => {
  const r = recorder<number>()
  const loader = createLoader(r.batch, { maxBatchSize: 10 })
  await Promise.all(Array.from({ length: 25 }, (_, i) => loader.load(i)))
  assert.deepEqual(
    r.calls.map((c) => c.length),
    [10, 10, 5],
  )
})

test('repeated keys are served from the cache; clear() and clearAll() drop them', async () => {
  const r = recorder<number>()
  const loader = createLoader(r.batch)
  await loader.load(1)
  await loader.load(1)
  assert.equal(r.calls.length, 1)
  loader.clear(1)
  await loader.load(1)
  assert.equal(r.calls.length, 2)
  loader.clearAll()
  await loader.load(1)
  assert.equal(r.calls.length, 3)
})

test('prime() fills the cache; cacheKeyFn lets object keys hit', async () => {
  const calls: number[] = []
  const loader = createLoader(
    async (keys: readonly { id: number }[]) => {
      calls.push(keys.length)
      return keys.map((k) => k.id)
    },
    { cacheKeyFn: (k) => k.id },
  )
  loader.prime({ id: 7 }, 70)
  assert.equal(await loader.load({ id: 7 }), 70)
  await loader.load({ id: 1 })
  await loader.load({ id: 1 })
  assert.deepEqual(calls, [1])
})

test('the cache is bounded: the least recently used key goes first', async () => {
  const r = recorder<number>()
  const loader = createLoader(r.batch, { cache: { maxEntries: 2 } })
  await loader.load(1)
  await loader.load(2)
  await loader.load(1) // 1 is now the most recent
  await loader.load(3) // evicts 2
  assert.equal(loader.stats().cacheEntries, 2)
  await loader.load(1)
  assert.equal(r.calls.length, 3, '1 stayed cached')
  await loader.load(2)
  assert.equal(r.calls.length, 4, '2 was evicted')
})

test('cached values expire after the TTL', async () => {
  const clock = new FakeClock()
  const r = recorder<number>()
  const loader = createLoader(r.batch, { cache: { ttl: '1s' }, clock })
  await loader.load(1)
  clock.advance(500)
  await loader.load(1)
  assert.equal(r.calls.length, 1)
  clock.advance(600)
  await loader.load(1)
  assert.equal(r.calls.length, 2)
})

test('an Error for one key rejects that load only and is not cached', async () => {
  let fail = true
  const loader = createLoader(async (keys: readonly number[]) =>
    keys.map((k) => (k === 2 && fail ? new Error('no 2') : k)),
  )
  const [a, b] = await Promise.allSettled([loader.load(1), loader.load(2)])
  assert.equal(a.status, 'fulfilled')
  assert.equal(b.status, 'rejected')
  fail = false
  assert.equal(await loader.load(2), 2)
})

test('a batch function that returns the wrong length rejects every load with a clear message', async () => {
  const loader = createLoader(async (_keys: readonly number[]) => [1])
  const res = await Promise.allSettled([loader.load(1), loader.load(2)])
  for (const r of res) {
    assert.equal(r.status, 'rejected')
    assert.match(String((r as PromiseRejectedResult).reason), /array of 2 values/)
  }
  assert.equal(loader.stats().errors, 1)
})

test('without a cache, every load goes to the batch (as in DataLoader)', async () => {
  const r = recorder<number>()
  const loader = createLoader(r.batch, { cache: false })
  const [a, b] = await Promise.all([loader.load(5), loader.load(5)])
  assert.equal(a, 50)
  assert.equal(b, 50)
  assert.deepEqual(r.calls, [[5, 5]])
  assert.equal(loader.stats().cacheEntries, 0)
})

test('unknown options are refused', () => {
  assert.throws(
    () => createLoader(async (k: readonly number[]) => k, { maxBatch: 3 } as never),
    /did you mean "maxBatchSize"/i,
  )
})

test('loadMany returns values and Errors in key order', async () => {
  const loader = createLoader(async (keys: readonly number[]) =>
    keys.map((k) => (k < 0 ? new Error('neg') : k)),
  )
  const out = await loader.loadMany([1, -1, 2])
  assert.equal(out[0], 1)
  assert.ok(out[1] instanceof Error)
  assert.equal(out[2], 2)
})

test('a batch function that throws synchronously or rejects fails every load of that batch only', async () => {
  let mode: 'throw' | 'reject' | 'ok' = 'throw'
  const loader = createLoader(
    ((keys: readonly number[]) => {
      if (mode === 'throw') throw new Error('sync boom')
      if (mode === 'reject') return Promise.reject(new Error('async boom'))
      return Promise.resolve(keys.map((k) => k + 1))
    }) as (keys: readonly number[]) => Promise<number[]>,
    { cache: false },
  )
  for (const [m, message] of [
    ['throw', /sync boom/],
    ['reject', /async boom/],
  ] as const) {
    mode = m
    const res = await Promise.allSettled([loader.load(1), loader.load(2)])
    assert.deepEqual(
      res.map((r) => r.status),
      ['rejected', 'rejected'],
    )
    for (const r of res) assert.match(String((r as PromiseRejectedResult).reason), message)
  }
  mode = 'ok'
  assert.deepEqual(await Promise.all([loader.load(1), loader.load(2)]), [2, 3])
  const s = loader.stats()
  assert.deepEqual([s.loads, s.batches, s.errors, s.keysLoaded], [6, 3, 2, 6])
  assert.equal(s.batchDuration.count, 3)
})

test('without a cache a null key is still refused, and cacheKeyFn is not needed', async () => {
  let keyed = 0
  const loader = createLoader(async (keys: readonly number[]) => keys.map((k) => k * 3), {
    cache: false,
    cacheKeyFn: (k: number) => {
      keyed++
      return k
    },
  })
  await assert.rejects(loader.load(null as unknown as number), /needs a key/)
  assert.equal(await loader.load(4), 12)
  assert.equal(keyed, 0, 'no cache, so no cache key is computed')
  assert.equal(loader.stats().loads, 1)
})

test('a batch function may return a plain array (not a promise)', async () => {
  const loader = createLoader(((keys: readonly number[]) => keys.map((k) => -k)) as never as (
    keys: readonly number[],
  ) => Promise<number[]>)
  assert.deepEqual(await Promise.all([loader.load(1), loader.load(2)]), [-1, -2])
})
