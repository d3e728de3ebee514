import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { Harness, primeL1 } from './support.js'

const h = new Harness()
after(() => h.close())

describe('getMany and getOrSetMany over L2', () => {
  it('getMany reads L1 misses from L2 and returns undefined in order for misses', async () => {
    const prefix = h.prefix('getmany')
    const a = h.cache(prefix)
    await a.set('a', 1)
    await a.set('c', { three: 3 })
    await a.set('e', new Date(5))
    // no L1 at all
    const noL1 = h.cache(prefix, { memory: false })
    assert.deepEqual(await noL1.getMany(['a', 'b', 'c', 'd', 'e']), [
      1,
      undefined,
      { three: 3 },
      undefined,
      new Date(5),
    ])
    assert.equal(noL1.stats().l2.hits, 3)
    assert.equal(noL1.stats().l2.misses, 2)
    // a fresh instance with an empty L1: everything comes from L2 and fills L1
    const fresh = h.cache(prefix)
    assert.deepEqual(await fresh.getMany(['b', 'a', 'e']), [undefined, 1, new Date(5)])
    assert.equal(fresh.stats().l2.hits, 2)
    // L1 hits and L2 reads mixed in one call keep the order
    await primeL1(fresh, 'a', 1, a)
    const hitsBefore = fresh.stats().l2.hits
    assert.deepEqual(await fresh.getMany(['c', 'a', 'x']), [{ three: 3 }, 1, undefined])
    assert.equal(fresh.stats().l2.hits - hitsBefore, 1, "only 'c' was read from L2")
  })

  it('getOrSetMany calls the batch loader once with only the missing keys and stores them in L2', async () => {
    const prefix = h.prefix('getorsetmany')
    const a = h.cache(prefix)
    await a.set('a', 1)
    const b = h.cache(prefix, { memory: false })
    const asked: string[][] = []
    const values = await b.getOrSetMany(['a', 'b', 'd', 'b'], async (keys) => {
      asked.push(keys)
      return Object.fromEntries(keys.map((k) => [k, k.toUpperCase()]))
    })
    assert.deepEqual(values, [1, 'B', 'D', 'B'])
    assert.deepEqual(asked, [['b', 'd']], 'one call, only the missing keys, each once')
    // another instance reads the loaded values from L2
    const c = h.cache(prefix)
    assert.deepEqual(await c.getMany(['b', 'd']), ['B', 'D'])
    assert.equal(c.stats().l2.hits, 2)
    // nothing left to load: the loader is not called
    const again = await h.cache(prefix).getOrSetMany(['a', 'b', 'd'], async () => {
      throw new Error('nothing should be loaded')
    })
    assert.deepEqual(again, [1, 'B', 'D'])
  })

  it('getOrSetMany accepts a Map or an array from the loader; undefined results are not stored', async () => {
    const prefix = h.prefix('getorsetmany-shapes')
    const a = h.cache(prefix)
    const fromMap = await a.getOrSetMany(['m1', 'm2'], async (keys) => new Map(keys.map((k) => [k, `${k}!`])))
    assert.deepEqual(fromMap, ['m1!', 'm2!'])
    const fromArray = await a.getOrSetMany(['r1', 'gone', 'r2'], async (keys) =>
      keys.map((k) => (k === 'gone' ? undefined : k.length)),
    )
    assert.deepEqual(fromArray, [2, undefined, 2])
    const reader = h.cache(prefix, { memory: false })
    assert.deepEqual(await reader.getMany(['m1', 'm2', 'r1', 'gone', 'r2']), ['m1!', 'm2!', 2, undefined, 2])
    assert.equal(await h.raw().exists(`${prefix}gone`), 0)
  })
})

describe('getOrSetMany reports what it reads', () => {
  const h3 = new Harness()
  after(() => h3.close())
  it('an undecodable L2 entry is reported as an l2-error and loaded (regression: swallowed silently)', async () => {
    const prefix = h3.prefix('many-decode')
    const cache = h3.cache(prefix)
    await h3.raw().set(`${prefix}bad`, 'not an entry')
    const ops: string[] = []
    cache.on('l2-error', (e) => ops.push(e.op))
    assert.deepEqual(await cache.getOrSetMany(['bad'], async (keys) => keys.map((k) => `loaded ${k}`)), [
      'loaded bad',
    ])
    assert.deepEqual(ops, ['decode'])
  })
})
