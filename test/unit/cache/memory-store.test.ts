import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { tagIndexSize } from '../../../src/cache/memory/size.js'
import { FrequencySketch, hashString } from '../../../src/cache/memory/sketch.js'
import { MemoryStore } from '../../../src/cache/memory/store.js'

const FOREVER = Number.MAX_SAFE_INTEGER

function store(maxEntries: number, maxBytes = 1e9): MemoryStore {
  return new MemoryStore({ maxEntries, maxBytes, maxEntryBytes: maxBytes })
}

describe('FrequencySketch', () => {
  it('counts accesses, saturates at 15 and ages by halving', () => {
    const s = new FrequencySketch(64)
    const h = hashString('hot')
    for (let i = 0; i < 5; i++) s.increment(h)
    assert.equal(s.frequency(h), 5)
    for (let i = 0; i < 50; i++) s.increment(h)
    assert.equal(s.frequency(h), 15)
    // sampleSize is 10 x capacity = 640 additions: push other keys until aging happens
    for (let i = 0; i < 700; i++) s.increment(hashString(`other:${i}`))
    assert.ok(s.frequency(h) <= 8, `aged frequency ${s.frequency(h)}`)
  })
})

describe('MemoryStore', () => {
  it('never holds more than maxEntries', () => {
    const m = store(100)
    for (let i = 0; i < 1000; i++) m.set(`k${i}`, i, FOREVER, FOREVER, 0, 10, undefined)
    assert.ok(m.size <= 100, `size ${m.size}`)
    assert.ok(m.evictions >= 900)
  })

  it('holds maxBytes under a flood of unique keys', () => {
    const m = store(10_000, 50_000)
    for (let i = 0; i < 5000; i++) m.set(`k${i}`, 'x', FOREVER, FOREVER, 0, 100, undefined)
    assert.ok(m.bytes <= 50_000, `bytes ${m.bytes}`)
    assert.ok(m.size <= 500)
  })

  it('rejects an entry larger than maxEntryBytes and drops the old value of that key', () => {
    const m = new MemoryStore({ maxEntries: 10, maxBytes: 1000, maxEntryBytes: 100 })
    assert.equal(m.set('a', 1, FOREVER, FOREVER, 0, 50, undefined), true)
    assert.equal(m.set('a', 2, FOREVER, FOREVER, 0, 500, undefined), false)
    assert.equal(m.peek('a'), -1)
  })

  it('serves fresh values, hides expired ones and removes them after staleUntil', () => {
    const m = store(10)
    m.set('a', 'v', 100, 200, 0, 10, undefined)
    assert.equal(m.getFresh('a', 99), 'v')
    assert.equal(m.getFresh('a', 100), undefined)
    assert.notEqual(m.peek('a'), -1, 'kept as stale within grace')
    assert.equal(m.lookup('a', 200), -1)
    assert.equal(m.peek('a'), -1)
  })

  it('keeps popular keys through a scan of one-time keys (W-TinyLFU admission)', () => {
    const m = store(100)
    const hot = Array.from({ length: 50 }, (_, i) => `hot${i}`)
    for (let round = 0; round < 5; round++) {
      for (const k of hot) if (m.lookup(k, 0) < 0) m.set(k, k, FOREVER, FOREVER, 0, 10, undefined)
    }
    for (let i = 0; i < 10_000; i++) {
      const k = `scan${i}`
      if (m.lookup(k, 0) < 0) m.set(k, k, FOREVER, FOREVER, 0, 10, undefined)
    }
    const kept = hot.filter((k) => m.peek(k) >= 0).length
    assert.ok(kept >= 45, `only ${kept} of 50 hot keys survived the scan`)
  })

  it('an LRU-like recency still admits a new key that becomes popular', () => {
    const m = store(20)
    for (let i = 0; i < 20; i++) m.set(`k${i}`, i, FOREVER, FOREVER, 0, 10, undefined)
    for (let r = 0; r < 10; r++) m.lookup('new', 0)
    m.set('new', 'n', FOREVER, FOREVER, 0, 10, undefined)
    for (let i = 0; i < 5; i++) m.set(`filler${i}`, i, FOREVER, FOREVER, 0, 10, undefined)
    assert.ok(m.peek('new') >= 0)
  })

  it('indexes tags: deleteByTag and expireByTag, scoped by prefix', () => {
    const m = store(10)
    m.set('ns1:a', 1, FOREVER, FOREVER, 0, 10, ['t'])
    m.set('ns2:b', 2, FOREVER, FOREVER, 0, 10, ['t'])
    m.set('ns1:c', 3, 1000, 2000, 0, 10, ['u'])
    assert.deepEqual(m.deleteByTag('t', 'ns1:'), ['ns1:a'])
    assert.equal(m.peek('ns1:a'), -1)
    assert.notEqual(m.peek('ns2:b'), -1)
    assert.equal(m.expireByTag('u', 50), 1)
    assert.equal(m.getFresh('ns1:c', 60), undefined)
    assert.notEqual(m.peek('ns1:c'), -1, 'kept as stale: grace moves with the expiry')
    assert.equal(m.staleUntil[m.peek('ns1:c')], 1050)
    m.set('nograce', 4, 1000, 1000, 0, 10, ['v'])
    m.expireByTag('v', 50)
    assert.equal(m.lookup('nograce', 50), -1, 'no grace: expired by tag is gone')
  })

  it('replacing a value updates its tags and bytes', () => {
    const m = store(10)
    m.set('a', 1, FOREVER, FOREVER, 0, 10, ['x'])
    m.set('a', 2, FOREVER, FOREVER, 0, 30, ['y'])
    assert.equal(m.bytes, 30 + tagIndexSize(['y'], () => true))
    assert.deepEqual(m.deleteByTag('x'), [])
    assert.deepEqual(m.deleteByTag('y'), ['a'])
    assert.equal(m.bytes, 0)
  })

  it('charges the tag index to tagged entries (regression: a response cache held 1.3-1.4x maxBytes)', () => {
    const m = store(10)
    m.set('a', 1, FOREVER, FOREVER, 0, 10, ['/api/catalog?page=1', 'catalog'])
    const first = m.bytes - 10
    assert.ok(first > 2 * 100, `two new tags cost their Sets and strings: ${first}`)
    m.set('b', 1, FOREVER, FOREVER, 0, 10, ['catalog'])
    const shared = m.bytes - 20 - first
    assert.equal(
      shared,
      tagIndexSize(['catalog'], () => false),
      'a shared tag costs only its Set element',
    )
    m.delete('a')
    m.delete('b')
    assert.equal(m.bytes, 0)
  })

  it('deleteByPrefix and clear free every slot for reuse', () => {
    const m = store(4)
    for (const k of ['p:a', 'p:b', 'q:c']) m.set(k, k, FOREVER, FOREVER, 0, 10, undefined)
    assert.equal(m.deleteByPrefix('p:'), 2)
    assert.equal(m.size, 1)
    m.clear()
    assert.equal(m.size, 0)
    for (let i = 0; i < 4; i++) m.set(`z${i}`, i, FOREVER, FOREVER, 0, 10, undefined)
    assert.equal(m.size, 4)
  })

  it('reports evictions to onEvict with a reason', () => {
    const m = store(2)
    const seen: string[] = []
    m.onEvict = (key, reason) => seen.push(`${key}:${reason}`)
    for (let i = 0; i < 5; i++) m.set(`k${i}`, i, FOREVER, FOREVER, 0, 10, undefined)
    assert.ok(seen.length >= 3)
    assert.ok(seen.every((s) => s.endsWith(':capacity')))
  })
})
