/**
 * Hit-ratio traces for the cache bench: deterministic (xorshift32, fixed seeds), so every
 * contender and every run sees the same requests, and an offline ideal (Belady's optimum:
 * on a miss with a full cache, evict the key whose next use is farthest away).
 */
import { LRUCache } from 'lru-cache'
import { MemoryStore } from '../src/cache/memory/store.js'

/** A deterministic uniform generator on [0, 1). */
export function uniform(seed: number): () => number {
  let x = seed >>> 0 || 1
  return () => {
    x ^= x << 13
    x >>>= 0
    x ^= x >>> 17
    x ^= x << 5
    x >>>= 0
    return x / 4294967296
  }
}

/** Zipf(s) sampler over ranks 0..n-1 via an inverse CDF table and binary search. */
export function zipf(n: number, s: number, seed = 42): () => number {
  const cdf = new Float64Array(n)
  let sum = 0
  for (let i = 0; i < n; i++) {
    sum += 1 / (i + 1) ** s
    cdf[i] = sum
  }
  const u = uniform(seed)
  return () => {
    const r = u() * sum
    let lo = 0
    let hi = n - 1
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if ((cdf[mid] as number) < r) lo = mid + 1
      else hi = mid
    }
    return lo
  }
}

/** One named trace and the cache capacity it is run at. */
export interface Trace {
  name: string
  keys: Int32Array
  capacity: number
}

/** The five traces of the hit-ratio table. */
export function traces(len = 1_000_000): Trace[] {
  const out: Trace[] = []
  for (const s of [0.8, 0.99]) {
    const next = zipf(100_000, s, 7)
    const keys = new Int32Array(len)
    for (let i = 0; i < len; i++) keys[i] = next()
    out.push({ name: `Zipf(${s}), 100k keys, capacity 1,000`, keys, capacity: 1000 })
  }
  {
    const next = zipf(100_000, 0.8, 11)
    const keys = new Int32Array(len)
    let oneTime = 10_000_000
    for (let i = 0; i < len; i++) keys[i] = i % 3 === 2 ? oneTime++ : next()
    out.push({ name: 'scan-polluted: Zipf(0.8) + 1/3 one-time keys, capacity 1,000', keys, capacity: 1000 })
  }
  {
    // uniform over a working set of 2,000 keys that moves on by 500 keys every 20,000 requests
    const u = uniform(13)
    const keys = new Int32Array(len)
    for (let i = 0; i < len; i++) keys[i] = Math.floor(i / 20_000) * 500 + Math.floor(u() * 2000)
    out.push({
      name: 'shifting working set: 2,000 keys, +500 every 20k requests, capacity 2,500',
      keys,
      capacity: 2500,
    })
  }
  {
    // a loop slightly larger than the cache: LRU's worst case (it always evicts the next key)
    const keys = new Int32Array(len)
    for (let i = 0; i < len; i++) keys[i] = i % 3000
    out.push({ name: 'loop: 3,000 keys cycled, capacity 2,500', keys, capacity: 2500 })
  }
  return out
}

/** Hit ratio of W-TinyLFU (our MemoryStore) on a trace. */
export function oursHitRatio(t: Trace): number {
  const store = new MemoryStore({ maxEntries: t.capacity, maxBytes: 1e12, maxEntryBytes: 1e12 })
  const far = Number.MAX_SAFE_INTEGER
  let hits = 0
  const keys = t.keys
  for (let i = 0; i < keys.length; i++) {
    const key = `k${keys[i]}`
    if (store.lookup(key, 0) >= 0) hits++
    else store.set(key, 1, far, far, 0, 1, undefined)
  }
  return hits / keys.length
}

/** Hit ratio of lru-cache on a trace. */
export function lruHitRatio(t: Trace): number {
  const lru = new LRUCache<number, number>({ max: t.capacity })
  let hits = 0
  const keys = t.keys
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i] as number
    if (lru.get(k) !== undefined) hits++
    else lru.set(k, 1)
  }
  return hits / keys.length
}

/** Belady's optimum hit ratio: evict the resident key whose next request is farthest away. */
export function beladyHitRatio(t: Trace): number {
  const keys = t.keys
  const n = keys.length
  // next request position of each request; "never again" gets n + i (farther than any, distinct)
  const nextUse = new Int32Array(n)
  const last = new Map<number, number>()
  for (let i = n - 1; i >= 0; i--) {
    const k = keys[i] as number
    nextUse[i] = last.get(k) ?? n + i
    last.set(k, i)
  }
  // a max-heap of the resident keys' next uses; `at[v]` is the heap index of next use v, and
  // `owner[v]` the key it belongs to (every v is a distinct request position)
  const heap = new Int32Array(t.capacity)
  const at = new Int32Array(2 * n).fill(-1)
  const owner = new Int32Array(2 * n)
  let size = 0
  const place = (j: number, v: number) => {
    heap[j] = v
    at[v] = j
  }
  const up = (j: number) => {
    const v = heap[j] as number
    while (j > 0) {
      const p = (j - 1) >> 1
      if ((heap[p] as number) >= v) break
      place(j, heap[p] as number)
      j = p
    }
    place(j, v)
  }
  const down = (j: number) => {
    const v = heap[j] as number
    for (;;) {
      let c = 2 * j + 1
      if (c >= size) break
      if (c + 1 < size && (heap[c + 1] as number) > (heap[c] as number)) c++
      if ((heap[c] as number) <= v) break
      place(j, heap[c] as number)
      j = c
    }
    place(j, v)
  }
  let hits = 0
  for (let i = 0; i < n; i++) {
    const nu = nextUse[i] as number
    owner[nu] = keys[i] as number
    const j = at[i] as number
    if (j >= 0) {
      // resident: its pending next use was this request; it moves to the one after
      hits++
      at[i] = -1
      heap[j] = nu
      at[nu] = j
      down(j)
    } else {
      if (size === t.capacity) {
        at[heap[0] as number] = -1
        size--
        if (size > 0) {
          place(0, heap[size] as number)
          down(0)
        }
      }
      place(size++, nu)
      up(size - 1)
    }
  }
  return hits / n
}
