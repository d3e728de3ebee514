/**
 * The L1 store: a synchronous, bounded map with TTL and W-TinyLFU admission.
 *
 * Layout: entries live in parallel typed arrays indexed by slot (struct-of-arrays), so an entry
 * costs a Map slot plus a few array cells and no object of its own. The slots form three LRU
 * lists: an admission window (1% of capacity at first), and a segmented main space of probation
 * (20%) and protected (80%). A new key enters the window; when the window overflows, its oldest
 * key becomes a candidate for the main space and is admitted only if the frequency sketch says it
 * is more popular than the main space's victim. One-hit wonders and scans therefore cannot flush
 * the popular keys, which is what lifts the hit ratio above LRU's (Einziger et al., TinyLFU,
 * ACM ToS 2017; Caffeine's W-TinyLFU). The window's size then follows the workload by hill
 * climbing on the hit ratio (climber.ts): recency-heavy work grows it towards LRU.
 *
 * This file is a deliberate hot path: no allocation on a hit, monomorphic shapes, cached hashes.
 */
import { HillClimber } from './climber.js'
import { tagIndexSize } from './size.js'
import { FrequencySketch, hashString } from './sketch.js'

const WINDOW = 0
const PROBATION = 1
const PROTECTED = 2
const NONE = -1

/** Why an entry left L1. */
export type EvictionReason = 'capacity' | 'bytes' | 'expired' | 'rejected'

/** Bounds of the L1 store. */
export interface MemoryStoreLimits {
  maxEntries: number
  maxBytes: number
  maxEntryBytes: number
}

/** The synchronous L1 store. Times are milliseconds from the cache's clock. */
export class MemoryStore {
  readonly maxEntries: number
  readonly maxBytes: number
  readonly maxEntryBytes: number
  private readonly map = new Map<string, number>()
  private readonly keys: Array<string | undefined>
  private readonly vals: unknown[]
  /** Fresh until (logical expiry). */
  readonly expiresAt: Float64Array
  /** Usable as stale until (hard expiry: expiresAt + grace). */
  readonly staleUntil: Float64Array
  /** Duration of the load that produced the value, for XFetch early refresh. */
  readonly delta: Float32Array
  private readonly hashes: Int32Array
  private readonly sizes: Uint32Array
  private readonly next: Int32Array
  private readonly prev: Int32Array
  private readonly seg: Uint8Array
  /** CLOCK reference bits: a hit in the window or protected segment only sets this byte. */
  private readonly ref: Uint8Array
  private readonly free: Int32Array
  private freeTop = 0
  private readonly head = new Int32Array([NONE, NONE, NONE])
  private readonly tail = new Int32Array([NONE, NONE, NONE])
  private readonly count = new Int32Array(3)
  /** Window size, moved by the hill climber; `windowTarget` keeps its fractional steps. */
  private windowMax: number
  private windowTarget: number
  private protectedMax: number
  private readonly sketch: FrequencySketch
  private readonly climber: HillClimber
  /** Hits and misses of `lookup` (those of `getFresh` are `syncHits`/`syncMisses`). */
  private lookupHits = 0
  private lookupMisses = 0
  /** Hits and misses counted when the current sample began. */
  private hitsMark = 0
  private missesMark = 0
  private seed = 0x2545f491
  /** The last key `hashOf` hashed, and its hash. */
  private hashedKey: string | undefined = undefined
  private hashedValue = 0
  /** Tags by slot, for tagged entries only. */
  private readonly slotTags = new Map<number, readonly string[]>()
  /** Keys by tag. */
  private readonly tagIndex = new Map<string, Set<string>>()
  private totalBytes = 0
  /** Entries evicted for capacity or bytes since creation. */
  evictions = 0
  /** Set by close(): the store is empty and takes nothing more. */
  private closed = false
  /** Fresh hits and misses of `getFresh` (the synchronous path counts here, not in the engine). */
  syncHits = 0
  syncMisses = 0
  /** Load durations of the values `getFresh` served (the engine's `savedMs` for the synchronous hits). */
  syncSavedMs = 0
  /** Called when an entry leaves for a reason other than an explicit delete; null when nobody listens. */
  onEvict: ((key: string, reason: EvictionReason) => void) | null = null

  constructor(limits: MemoryStoreLimits) {
    const n = limits.maxEntries
    this.maxEntries = n
    this.maxBytes = limits.maxBytes
    this.maxEntryBytes = limits.maxEntryBytes
    this.keys = new Array<string | undefined>(n).fill(undefined)
    this.vals = new Array<unknown>(n).fill(undefined)
    this.expiresAt = new Float64Array(n)
    this.staleUntil = new Float64Array(n)
    this.delta = new Float32Array(n)
    this.hashes = new Int32Array(n)
    this.sizes = new Uint32Array(n)
    this.next = new Int32Array(n).fill(NONE)
    this.prev = new Int32Array(n).fill(NONE)
    this.seg = new Uint8Array(n)
    this.ref = new Uint8Array(n)
    this.free = new Int32Array(n)
    for (let i = 0; i < n; i++) this.free[i] = n - 1 - i
    this.freeTop = n
    this.windowMax = Math.max(1, Math.floor(n * 0.01))
    this.windowTarget = this.windowMax
    this.protectedMax = Math.max(0, Math.floor((n - this.windowMax) * 0.8))
    this.sketch = new FrequencySketch(n)
    this.climber = new HillClimber(n)
  }

  /** Entries held. */
  get size(): number {
    return this.map.size
  }

  /** Estimated bytes held (keys, values and per-entry overhead as sized by the cache). */
  get bytes(): number {
    return this.totalBytes
  }

  /**
   * Finds a live entry and records the access (frequency and recency). Returns its slot or -1.
   * An entry past `staleUntil` is removed and reported as a miss.
   */
  lookup(key: string, now: number): number {
    const i = this.map.get(key)
    if (i === undefined) {
      this.lookupMisses++
      this.sketch.increment(this.hashOf(key))
      return NONE
    }
    if ((this.staleUntil[i] as number) <= now) {
      this.lookupMisses++
      this.sketch.increment(this.hashes[i] as number)
      this.removeSlot(i, 'expired')
      return NONE
    }
    this.lookupHits++
    this.sketch.increment(this.hashes[i] as number)
    this.touch(i)
    return i
  }

  /**
   * The value if the key is present and fresh, recording the access; `undefined` otherwise.
   * The synchronous hot path.
   */
  getFresh(key: string, now: number): unknown {
    const i = this.map.get(key)
    if (i === undefined) {
      this.syncMisses++
      this.sketch.increment(this.hashOf(key))
      return undefined
    }
    this.sketch.increment(this.hashes[i] as number)
    if ((this.expiresAt[i] as number) <= now) {
      this.syncMisses++
      if ((this.staleUntil[i] as number) <= now) this.removeSlot(i, 'expired')
      return undefined
    }
    this.syncHits++
    this.syncSavedMs += this.delta[i] as number
    if (this.seg[i] === PROBATION) this.touch(i)
    else this.ref[i] = 1
    return this.vals[i]
  }

  /** The slot of a present entry without recording an access (no recency, no frequency), or -1. */
  peek(key: string): number {
    const i = this.map.get(key)
    return i === undefined ? NONE : i
  }

  /** The value in a slot returned by `lookup` or `peek`. */
  valueAt(slot: number): unknown {
    return this.vals[slot]
  }

  /**
   * Stores an entry. Returns false when it was not kept (larger than `maxEntryBytes`, or refused
   * admission by the frequency sketch in favour of more popular keys).
   */
  set(
    key: string,
    value: unknown,
    expiresAt: number,
    staleUntil: number,
    delta: number,
    size: number,
    tags: readonly string[] | undefined,
  ): boolean {
    if (this.closed) return false
    const existing = this.map.get(key)
    if (size > this.maxEntryBytes) {
      if (existing !== undefined) this.removeSlot(existing, 'rejected')
      return false
    }
    let i: number
    if (existing !== undefined) {
      i = existing
      this.totalBytes -= this.sizes[i] as number
      this.untag(i)
      this.touch(i)
    } else {
      i = this.allocate(key)
    }
    this.vals[i] = value
    this.expiresAt[i] = expiresAt
    this.staleUntil[i] = staleUntil
    this.delta[i] = delta
    const charged = tags !== undefined && tags.length > 0 ? size + this.tag(i, key, tags) : size
    this.sizes[i] = charged
    this.totalBytes += charged
    if (existing === undefined) this.admit(i)
    if (this.totalBytes > this.maxBytes) this.shrinkToBytes(i)
    return this.keys[i] === key
  }

  /**
   * Marks a present entry as expired now. Its grace window moves with it (staleUntil keeps the
   * same distance to expiresAt), so an entry stored without grace is gone, not stale.
   */
  expire(key: string, now: number): boolean {
    const i = this.map.get(key)
    if (i === undefined) return false
    const exp = this.expiresAt[i] as number
    if (exp > now) {
      this.staleUntil[i] = (this.staleUntil[i] as number) - (exp - now)
      this.expiresAt[i] = now
    }
    return true
  }

  /** Removes a key. Returns true if it was present. */
  delete(key: string): boolean {
    const i = this.map.get(key)
    if (i === undefined) return false
    this.removeSlot(i, null)
    return true
  }

  /** Removes every key that starts with `prefix`; returns how many. */
  deleteByPrefix(prefix: string): number {
    if (prefix === '') {
      const n = this.map.size
      this.clear()
      return n
    }
    let removed = 0
    for (const [key, i] of this.map) {
      if (key.startsWith(prefix)) {
        this.removeSlot(i, null)
        removed++
      }
    }
    return removed
  }

  /** Removes every entry carrying `tag` (and starting with `prefix`); returns the keys removed. */
  deleteByTag(tag: string, prefix = ''): string[] {
    const keys = this.tagIndex.get(tag)
    if (keys === undefined) return []
    const removed: string[] = []
    for (const key of [...keys]) {
      if (!key.startsWith(prefix)) continue
      const i = this.map.get(key)
      if (i !== undefined) this.removeSlot(i, null)
      removed.push(key)
    }
    return removed
  }

  /** Marks every entry carrying `tag` (and starting with `prefix`) as expired now; returns how many. */
  expireByTag(tag: string, now: number, prefix = ''): number {
    const keys = this.tagIndex.get(tag)
    if (keys === undefined) return 0
    let n = 0
    for (const key of keys) {
      if (key.startsWith(prefix) && this.expire(key, now)) n++
    }
    return n
  }

  /** Removes everything. */
  /**
   * Empties the store for good: it takes no more entries, so every read misses. The cache's
   * synchronous read relies on this: it checks for a closed cache only on a miss.
   */
  close(): void {
    this.clear()
    this.closed = true
  }

  clear(): void {
    for (const i of this.map.values()) {
      this.keys[i] = undefined
      this.vals[i] = undefined
      this.next[i] = NONE
      this.prev[i] = NONE
    }
    this.map.clear()
    this.slotTags.clear()
    this.tagIndex.clear()
    this.freeTop = 0
    for (let i = this.maxEntries - 1; i >= 0; i--) this.free[this.freeTop++] = i
    this.head.fill(NONE)
    this.tail.fill(NONE)
    this.count.fill(0)
    this.totalBytes = 0
  }

  // --- internals -------------------------------------------------------------------------

  /**
   * The sketch hash of a key not in the map. A miss hashes its key up to three times (the
   * synchronous read, the loader path's lookup, the insert), so the last key hashed is remembered.
   */
  private hashOf(key: string): number {
    if (key === this.hashedKey) return this.hashedValue
    const h = hashString(key)
    this.hashedKey = key
    this.hashedValue = h
    return h
  }

  private allocate(key: string): number {
    if (this.freeTop === 0) this.makeRoom()
    const i = this.free[--this.freeTop] as number
    this.keys[i] = key
    this.hashes[i] = this.hashOf(key)
    this.map.set(key, i)
    this.seg[i] = WINDOW
    this.ref[i] = 0
    this.linkTail(WINDOW, i)
    return i
  }

  /** After a new entry joined the window: window overflow moves to the main space (there is room). */
  private admit(_newSlot: number): void {
    while ((this.count[WINDOW] as number) > this.windowMax) {
      const candidate = this.oldest(WINDOW)
      this.unlink(candidate)
      this.seg[candidate] = PROBATION
      this.linkTail(PROBATION, candidate)
    }
  }

  /**
   * Full: the window's oldest key duels the main space's victim for a place; the loser leaves.
   * While the window is below its (adapted) size, the newcomer just joins it and the main
   * space gives up its victim, which is how the window grows.
   */
  private makeRoom(): void {
    this.climb()
    if ((this.count[WINDOW] as number) < this.windowMax) {
      let victim = this.head[PROBATION] as number
      if (victim === NONE) victim = this.oldest(PROTECTED)
      if (victim !== NONE) {
        this.removeSlot(victim, 'capacity')
        this.evictions++
        return
      }
    }
    const candidate = this.oldest(WINDOW)
    if (candidate === NONE) {
      this.evictOne('capacity')
      return
    }
    this.unlink(candidate)
    this.seg[candidate] = PROBATION
    this.linkTail(PROBATION, candidate)
    this.duel(candidate)
  }

  /** Candidate vs victim: the less frequent one leaves. */
  private duel(candidate: number): void {
    let victim = this.head[PROBATION] as number
    if (victim === candidate) victim = this.oldest(PROTECTED)
    if (victim === NONE || victim === candidate) {
      this.removeSlot(candidate, 'capacity')
      this.evictions++
      return
    }
    const cf = this.sketch.frequency(this.hashes[candidate] as number)
    const vf = this.sketch.frequency(this.hashes[victim] as number)
    // a warm candidate occasionally wins a tie, so an attacker cannot pin the victim by flooding
    if (cf > vf || (cf >= 6 && (this.nextRandom() & 127) === 0)) this.removeSlot(victim, 'capacity')
    else this.removeSlot(candidate, 'capacity')
    this.evictions++
  }

  /** After each sample of requests, lets the hill climber move the window's size. */
  private climb(): void {
    const hits = this.syncHits + this.lookupHits - this.hitsMark
    const misses = this.syncMisses + this.lookupMisses - this.missesMark
    if (hits + misses < this.climber.sampleSize) return
    this.hitsMark += hits
    this.missesMark += misses
    const n = this.maxEntries
    const target = this.windowTarget + this.climber.adjust(hits, misses)
    this.windowTarget = Math.min(Math.max(target, 1), Math.max(1, n - 1))
    this.windowMax = Math.round(this.windowTarget)
    this.protectedMax = Math.floor((n - this.windowMax) * 0.8)
    // a shrunk protected segment gives its oldest entries back to probation, where they can be
    // evicted: otherwise keys that stopped being requested would hold it forever
    while ((this.count[PROTECTED] as number) > this.protectedMax) this.demote()
  }

  /** xorshift32: the duel's coin, seeded per store so a run can be replayed in the bench. */
  private nextRandom(): number {
    let x = this.seed
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    this.seed = x
    return x >>> 0
  }

  private evictOne(reason: EvictionReason): void {
    let victim = this.head[PROBATION] as number
    if (victim === NONE) victim = this.head[WINDOW] as number
    if (victim === NONE) victim = this.head[PROTECTED] as number
    if (victim === NONE) return
    this.removeSlot(victim, reason)
    this.evictions++
  }

  private shrinkToBytes(keep: number): void {
    while (this.totalBytes > this.maxBytes && this.map.size > 1) {
      let victim = this.head[PROBATION] as number
      if (victim === keep || victim === NONE) victim = this.head[WINDOW] as number
      if (victim === keep || victim === NONE) victim = this.head[PROTECTED] as number
      if (victim === keep) victim = this.next[victim] as number
      if (victim === NONE) break
      this.removeSlot(victim, 'bytes')
      this.evictions++
    }
  }

  /**
   * Records recency. Probation hits are promoted to protected at once (that is the segmented
   * LRU's signal); window and protected hits only set a reference bit, and the list order is
   * fixed lazily when an entry reaches the head (CLOCK second chance), which keeps a hit down to
   * one byte store instead of relinking two list nodes.
   */
  private touch(i: number): void {
    if (this.seg[i] === PROBATION) {
      this.unlink(i)
      this.seg[i] = PROTECTED
      this.ref[i] = 0
      this.linkTail(PROTECTED, i)
      if ((this.count[PROTECTED] as number) > this.protectedMax) this.demote()
    } else {
      this.ref[i] = 1
    }
  }

  /** Moves the oldest protected entry to probation's most recent end. */
  private demote(): void {
    const demoted = this.oldest(PROTECTED)
    this.unlink(demoted)
    this.seg[demoted] = PROBATION
    this.linkTail(PROBATION, demoted)
  }

  /** The least recently used slot of segment `s` (giving referenced slots a second chance). */
  private oldest(s: number): number {
    const ref = this.ref
    let h = this.head[s] as number
    let budget = this.count[s] as number
    while (h !== NONE && ref[h] === 1 && budget-- > 0) {
      ref[h] = 0
      if (this.tail[s] === h) return h
      this.moveToTail(s, h)
      h = this.head[s] as number
    }
    return h
  }

  /** Moves a slot that is not already the tail to the tail of its own list (counts unchanged). */
  private moveToTail(s: number, i: number): void {
    const next = this.next
    const prev = this.prev
    const p = prev[i] as number
    const n = next[i] as number
    if (p === NONE) this.head[s] = n
    else next[p] = n
    prev[n] = p
    const t = this.tail[s] as number
    next[t] = i
    prev[i] = t
    next[i] = NONE
    this.tail[s] = i
  }

  private linkTail(s: number, i: number): void {
    const t = this.tail[s] as number
    this.prev[i] = t
    this.next[i] = NONE
    if (t === NONE) this.head[s] = i
    else this.next[t] = i
    this.tail[s] = i
    this.count[s]!++
  }

  private unlink(i: number): void {
    const s = this.seg[i] as number
    const p = this.prev[i] as number
    const n = this.next[i] as number
    if (p === NONE) this.head[s] = n
    else this.next[p] = n
    if (n === NONE) this.tail[s] = p
    else this.prev[n] = p
    this.prev[i] = NONE
    this.next[i] = NONE
    this.count[s]!--
  }

  private removeSlot(i: number, reason: EvictionReason | null): void {
    const key = this.keys[i] as string
    this.unlink(i)
    this.map.delete(key)
    this.untag(i)
    this.totalBytes -= this.sizes[i] as number
    this.sizes[i] = 0
    this.keys[i] = undefined
    this.vals[i] = undefined
    this.free[this.freeTop++] = i
    if (reason !== null && this.onEvict !== null) this.onEvict(key, reason)
  }

  /**
   * Indexes the entry under its tags and returns the heap the index holds for it, charged to the
   * entry so that maxBytes bounds real memory (a response cache tags every entry with its own URL,
   * so the index is a real share of each entry).
   */
  private tag(i: number, key: string, tags: readonly string[]): number {
    const bytes = tagIndexSize(tags, (t) => !this.tagIndex.has(t))
    this.slotTags.set(i, tags)
    for (const t of tags) {
      let set = this.tagIndex.get(t)
      if (set === undefined) {
        set = new Set()
        this.tagIndex.set(t, set)
      }
      set.add(key)
    }
    return bytes
  }

  private untag(i: number): void {
    const tags = this.slotTags.get(i)
    if (tags === undefined) return
    this.slotTags.delete(i)
    const key = this.keys[i] as string
    for (const t of tags) {
      const set = this.tagIndex.get(t)
      if (set === undefined) continue
      set.delete(key)
      if (set.size === 0) this.tagIndex.delete(t)
    }
  }
}
