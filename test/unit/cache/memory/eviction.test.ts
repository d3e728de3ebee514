import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { HillClimber } from '../../../../src/cache/memory/climber.js'
import { MemoryStore } from '../../../../src/cache/memory/store.js'

const FOREVER = Number.MAX_SAFE_INTEGER

/** Deterministic uniform integers in [0, n). */
function uniform(seed: number): (n: number) => number {
  let x = seed
  return (n) => {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    return Math.floor(((x >>> 0) / 4294967296) * n)
  }
}

function hitRatio(m: MemoryStore, trace: readonly string[]): number {
  let hits = 0
  for (const key of trace) {
    if (m.lookup(key, 0) >= 0) hits++
    else m.set(key, 1, FOREVER, FOREVER, 0, 1, undefined)
  }
  return hits / trace.length
}

/** Hit ratio of a plain LRU of `capacity` keys (a Map in recency order). */
function lruHitRatio(capacity: number, trace: readonly string[]): number {
  const lru = new Map<string, true>()
  let hits = 0
  for (const key of trace) {
    if (lru.delete(key)) hits++
    else if (lru.size === capacity) lru.delete(lru.keys().next().value as string)
    lru.set(key, true)
  }
  return hits / trace.length
}

describe('W-TinyLFU eviction', () => {
  it('a shifting working set is not kept out by the departed keys (the 1% window lost to LRU by 16 points)', () => {
    // 200 keys requested uniformly, moving on by 50 keys every 2,000 requests; room for 250.
    // LRU scores ~97% here (each shift costs 50 misses); a fixed 1% window scored ~80%.
    const next = uniform(13)
    const trace: string[] = []
    for (let i = 0; i < 400_000; i++) trace.push(`k${Math.floor(i / 2000) * 50 + next(200)}`)
    const ratio = hitRatio(new MemoryStore({ maxEntries: 250, maxBytes: 1e12, maxEntryBytes: 1e12 }), trace)
    const lru = lruHitRatio(250, trace)
    assert.ok(ratio >= lru - 0.02, `hit ratio ${ratio.toFixed(3)}, LRU ${lru.toFixed(3)}`)
  })

  it('still keeps a skewed popular set through one-time keys after the window adapts', () => {
    const next = uniform(7)
    const trace: string[] = []
    let once = 0
    for (let i = 0; i < 200_000; i++) trace.push(i % 2 === 0 ? `hot${next(100)}` : `once${once++}`)
    const ratio = hitRatio(new MemoryStore({ maxEntries: 150, maxBytes: 1e12, maxEntryBytes: 1e12 }), trace)
    // LRU keeps ~150 of the last requests: half are one-time keys, so it holds ~75 hot keys;
    // admission keeps nearly all 100 hot keys (a hot key is half of the requests: ratio near 0.5)
    assert.ok(ratio >= 0.45, `hit ratio ${ratio.toFixed(3)}`)
  })
})

describe('HillClimber', () => {
  it('keeps its direction while the hit ratio improves and turns back when it worsens', () => {
    const c = new HillClimber(1000)
    const first = c.adjust(50, 50)
    assert.ok(first > 0, 'starts by growing the window')
    assert.ok(c.adjust(60, 40) > 0, 'better: same direction')
    assert.ok(c.adjust(55, 45) < 0, 'worse: turns back')
  })

  it('shrinks its steps while the hit ratio barely moves, and restarts them when it jumps', () => {
    const c = new HillClimber(1000)
    const a = Math.abs(c.adjust(500, 500))
    const b = Math.abs(c.adjust(501, 499))
    const d = Math.abs(c.adjust(502, 498))
    assert.ok(d < b && b <= a, `steps ${a} ${b} ${d}`)
    c.adjust(900, 100)
    assert.equal(Math.abs(c.adjust(901, 99)), a, 'a jump of the hit ratio restarts at a full step')
  })
})
