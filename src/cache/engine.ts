/**
 * The engine behind every cache view (namespaces share it): wiring of the tiers (L1 memory, the
 * L2 facade in l2-tier.ts), the loader runs (single-flight.ts, lock.ts), invalidations from other
 * instances, counters and lifecycle. Its state is private; views use its verbs.
 */
import { ClosedError } from '../errors.js'
import { Events } from '../events.js'
import { systemClock } from '../time.js'
import { DeferredStores } from './deferred-store.js'
import type { Invalidation } from './invalidation.js'
import type { BreakerState } from './l2-guard.js'
import { L2Tier, NOTHING, type StaleBox } from './l2-tier.js'
import { entrySize } from './memory/size.js'
import { MemoryStore } from './memory/store.js'
import type { ResolvedCacheOptions, ResolvedPolicy, StandardSchema } from './option-types.js'
import { type AnyRedis, connect } from './redis-store.js'
import { encode, type WireEntry } from './serializer.js'
import { type Load, Loads } from './single-flight.js'
import type { BatchLoader, CacheEvents, CacheStats, Loader, StaleReason } from './types.js'

export { NOTHING } from './l2-tier.js'

const RESOLVED_NOTHING: Promise<unknown> = Promise.resolve(NOTHING)

/** A stale value and its window. */
export interface Stale {
  value: unknown
  expiresAt: number
  staleUntil: number
}

/** Counters behind `stats()`. */
interface Counters {
  l1Hits: number
  l1Misses: number
  l2Hits: number
  l2Misses: number
  loads: number
  loadErrors: number
  loadTimeouts: number
  early: number
  stale: number
  lockAcquired: number
  lockWaited: number
  savedMs: number
}

/** Names of the counters other modules may bump through `count()`. */
export type CounterName = 'loads' | 'loadErrors' | 'loadTimeouts' | 'early' | 'lockAcquired' | 'lockWaited'

/** The shared engine of a cache and its namespaces. */
export class CacheEngine {
  readonly options: ResolvedCacheOptions
  /** L1; read directly by the views' hit paths (no call layers on a hit). */
  readonly memory: MemoryStore | undefined
  /** The L2 facade, when Redis is configured. */
  readonly l2: L2Tier | undefined
  /** True when the cache has an L1 tier. */
  readonly hasL1: boolean
  readonly events = new Events<CacheEvents>()
  /** Set by createCache(): detaches the cache from its monitor when it closes. */
  detachMonitor: (() => void) | undefined
  /** L1 stores that follow their callers' answers (the db layer's cached-read misses). */
  private readonly deferred = new DeferredStores(this)
  private readonly c: Counters = {
    l1Hits: 0,
    l1Misses: 0,
    l2Hits: 0,
    l2Misses: 0,
    loads: 0,
    loadErrors: 0,
    loadTimeouts: 0,
    early: 0,
    stale: 0,
    lockAcquired: 0,
    lockWaited: 0,
    savedMs: 0,
  }
  private readonly loads: Loads
  /** L2 writes of loaded values still in flight (the caller was answered before them). */
  private readonly writing = new Set<Promise<void>>()
  private closed = false
  private readonly client: AnyRedis | undefined
  private readonly ownsClient: boolean
  private cachedNow = 0
  private readonly coarse: boolean

  constructor(options: ResolvedCacheOptions) {
    this.options = options
    this.coarse = options.clock === systemClock
    if (options.memory !== false) {
      this.memory = new MemoryStore(options.memory)
      this.memory.onEvict = null
    }
    this.hasL1 = this.memory !== undefined
    this.loads = new Loads(this)
    this.ownsClient = false
    const r = options.redis
    if (r !== undefined) {
      if (typeof r.connection === 'string') {
        this.client = connect(r.connection)
        this.ownsClient = true
        this.client.on('error', (err: unknown) => this.l2Error('connection', err))
      } else {
        this.client = r.connection
      }
      this.l2 = new L2Tier(this, this.client, r.bus)
    }
  }

  /** True once close() was called. */
  get isClosed(): boolean {
    return this.closed
  }

  /** The tiers this cache has. */
  get tiers(): { readonly l1: boolean; readonly l2: boolean } {
    return { l1: this.hasL1, l2: this.l2 !== undefined }
  }

  /** Turns L1 eviction events on while somebody listens. */
  watchEvictions(): void {
    const mem = this.memory
    if (mem === undefined || mem.onEvict !== null) return
    mem.onEvict = (key, reason) => {
      if (this.events.has('evict')) this.events.emit('evict', { key, reason })
      else mem.onEvict = null
    }
  }

  /**
   * The clock's time; with the system clock, read once per turn of the event loop (forgotten in
   * the loop's check phase). Regression: a 1 ms timer per reading woke an otherwise idle loop once
   * a millisecond, which cost a serial cache-miss path (a database read per miss) far more than
   * the Date.now() calls it saved; an immediate runs in the turn the loop makes anyway.
   */
  now(): number {
    if (!this.coarse) return this.options.clock.now()
    if (this.cachedNow === 0) {
      this.cachedNow = Date.now()
      setImmediate(this.forgetNow)
    }
    return this.cachedNow
  }

  private readonly forgetNow = (): void => {
    this.cachedNow = 0
  }

  // --- counters and events (the verbs other modules report through) ------------------------

  /** Bumps a counter. */
  count(name: CounterName): void {
    this.c[name]++
  }

  /** Reports an L2 failure, refusal or a bad message (callers never see them). */
  l2Error(op: string, error: unknown): void {
    if (this.events.has('l2-error')) this.events.emit('l2-error', { op, error })
  }

  /** Reports a breaker state change. */
  breakerChanged(state: BreakerState): void {
    if (this.events.has('breaker')) this.events.emit('breaker', { state })
  }

  /** Counts an L1 hit on `slot` (the hot path calls this inline-sized helper). */
  l1Hit(key: string, slot: number): void {
    this.c.l1Hits++
    this.c.savedMs += (this.memory as MemoryStore).delta[slot] as number
    if (this.events.has('hit')) this.events.emit('hit', { key, tier: 'l1', stale: false })
  }

  /** Counts an L1 miss (unless a synchronous read `counted` it already) and reports it. */
  l1Miss(key: string, counted = false): void {
    if (!counted) this.c.l1Misses++
    if (this.events.has('miss')) this.events.emit('miss', { key, tier: 'l1' })
  }

  /** Counts an L2 miss. */
  l2Miss(key: string): void {
    this.c.l2Misses++
    if (this.events.has('miss')) this.events.emit('miss', { key, tier: 'l2' })
  }

  /** Counts a stale serve. */
  serveStale(key: string, reason: StaleReason): void {
    this.c.stale++
    if (this.events.has('stale')) this.events.emit('stale', { key, reason })
  }

  /** Reports a finished loader run. */
  loaded(key: string, durationMs: number, ok: boolean, early: boolean): void {
    if (this.events.has('load')) this.events.emit('load', { key, durationMs, ok, early })
  }

  // --- reads --------------------------------------------------------------------------------

  /** Validates `value` against `schema`; NOTHING when it fails. */
  async validate(schema: StandardSchema, value: unknown): Promise<unknown> {
    let r = schema['~standard'].validate(value)
    if (r instanceof Promise) r = await r
    return r.issues === undefined ? r.value : NOTHING
  }

  /** A fresh value of `full` from L2 (filling L1), or NOTHING. */
  readL2(full: string, policy: ResolvedPolicy): Promise<unknown> {
    return this.l2 === undefined ? RESOLVED_NOTHING : this.l2.read(full, policy)
  }

  /** Fresh values of `fulls` from L2 with one MGET (NOTHING where there is none). */
  readManyL2(fulls: readonly string[], policy: ResolvedPolicy): Promise<unknown[]> {
    if (this.l2 === undefined) return Promise.resolve(fulls.map(() => NOTHING))
    return this.l2.readMany(fulls, policy)
  }

  /**
   * Handles a decoded, validated L2 entry: fresh → fills L1 (when `fill`) and returns the value;
   * stale → into `staleOut` (counted as a miss when `countMiss`); NOTHING otherwise.
   */
  acceptL2(
    full: string,
    entry: WireEntry,
    value: unknown,
    fill: boolean,
    staleOut: StaleBox | undefined,
    countMiss: boolean,
  ): unknown {
    const now = this.options.clock.now()
    if (entry.expiresAt > now) {
      this.c.l2Hits++
      this.c.savedMs += entry.delta
      if (this.events.has('hit')) this.events.emit('hit', { key: full, tier: 'l2', stale: false })
      if (this.memory !== undefined && fill) {
        const size = this.sizeOf(full, value)
        this.memory.set(full, value, entry.expiresAt, entry.staleUntil, entry.delta, size, entry.tags)
      }
      return value
    }
    if (countMiss) this.l2Miss(full)
    if (
      staleOut !== undefined &&
      entry.staleUntil > now &&
      (staleOut.s === undefined || staleOut.s.expiresAt < entry.expiresAt)
    ) {
      staleOut.s = { value, expiresAt: entry.expiresAt, staleUntil: entry.staleUntil }
    }
    return NOTHING
  }

  /**
   * The miss path's look at L1: a fresh entry that failed the fast path's schema check is
   * dropped, a stale one within grace goes into `box`. Counts the L1 miss unless `counted` (the
   * caller's getSync counted it).
   */
  staleFromL1(full: string, policy: ResolvedPolicy, now: number, box: StaleBox, counted: boolean): void {
    const mem = this.memory
    if (mem === undefined) return
    const slot = mem.peek(full)
    if (slot >= 0) {
      const staleUntil = mem.staleUntil[slot] as number
      const expiresAt = mem.expiresAt[slot] as number
      if (expiresAt > now && policy.schema !== undefined) mem.delete(full)
      else if (staleUntil > now && expiresAt <= now)
        box.s = { value: mem.valueAt(slot), expiresAt, staleUntil }
    }
    this.l1Miss(full, counted)
  }

  /** The L1 size of an entry (heap bytes as V8 holds them); a bad custom sizeOf throws a TypeError. */
  private sizeOf(full: string, value: unknown): number {
    return entrySize(full, value, this.options.memory === false ? undefined : this.options.memory.sizeOf)
  }

  // --- loads --------------------------------------------------------------------------------

  /** The miss path of getOrSet (see single-flight.ts). */
  resolve<T>(load: Load<T>): Promise<T> {
    return this.loads.resolve(load)
  }

  /** Starts an XFetch background refresh unless a load of `full` runs already. */
  refreshEarly<T>(full: string, key: string, loader: Loader<T>, policy: ResolvedPolicy): void {
    this.loads.refreshEarly(full, key, loader, policy)
  }

  /**
   * Values of keys that missed both tiers: joins loads already running, loads the rest with one
   * batch call; every key goes through the same loader machinery as getOrSet.
   */
  loadMany<T>(
    misses: ReadonlyArray<{ full: string; key: string }>,
    batch: BatchLoader<T>,
    policy: ResolvedPolicy,
    signal: AbortSignal | undefined,
  ): Promise<Array<T | undefined>> {
    return this.loads.joinOrLoadMany(misses, batch, policy, signal)
  }

  // --- writes -------------------------------------------------------------------------------

  /** Stores a value in L1 and L2 and tells other instances. Throws SerializeError before touching anything. */
  async store(full: string, value: unknown, policy: ResolvedPolicy, delta: number): Promise<void> {
    this.deferred.changed()
    await this.put(full, value, policy, delta)
  }

  /**
   * Encodes `value` and sets L1 synchronously (throwing SerializeError before touching anything),
   * then starts the L2 write; the returned promise (which never rejects) ends when the write and
   * its invalidation are done. Writes start in call order on one connection, so they land in order.
   */
  put(
    full: string,
    value: unknown,
    policy: ResolvedPolicy,
    delta: number,
    at?: number,
  ): Promise<void> | undefined {
    const now = at ?? this.options.clock.now()
    const expiresAt = now + policy.ttl
    const staleUntil = expiresAt + policy.grace
    const tags = policy.tags
    const l2 = this.l2 !== undefined && !policy.skipL2 ? this.l2 : undefined
    let buf: Buffer | undefined
    if (l2 !== undefined) {
      const compress = this.options.redis === undefined ? 0 : this.options.redis.compressAbove
      buf = encode(value, tags, expiresAt, staleUntil, delta, compress)
    }
    this.l2?.touchKey(full)
    if (this.memory !== undefined) {
      const size = this.sizeOf(full, value)
      this.memory.set(full, value, expiresAt, staleUntil, delta, size, tags)
    }
    if (l2 === undefined || buf === undefined) return undefined
    return l2.set(full, buf, staleUntil, tags)
  }

  /** True when a loaded value's store may follow its caller's answer (L1 only; see deferred-store.ts). */
  get canStoreAfterAnswer(): boolean {
    return this.l2 === undefined && this.memory !== undefined
  }

  /**
   * The L1 store of a loaded value whose caller is answered first; `done` runs after it. Its TTL
   * counts from now, not from when the store runs.
   */
  putAfterAnswer(
    full: string,
    value: unknown,
    policy: ResolvedPolicy,
    delta: number,
    done: () => void,
  ): void {
    this.deferred.add(full, value, policy, delta, this.options.clock.now(), done)
  }

  /**
   * Like put(), for a loaded value whose caller is answered at once: the L2 write runs in the
   * background, and close() waits for it (each is bounded by the L2 timeout), so the last
   * writes before a shutdown still reach Redis.
   */
  putInBackground(full: string, value: unknown, policy: ResolvedPolicy, delta: number): void {
    const w = this.put(full, value, policy, delta)
    if (w === undefined) return
    this.writing.add(w)
    void w.then(() => this.writing.delete(w))
  }

  /** Drops keys from this instance's L1 (and keeps reads in flight from putting them back). */
  dropLocal(fulls: readonly string[]): void {
    this.deferred.changed()
    for (const f of fulls) {
      this.l2?.touchKey(f)
      this.memory?.delete(f)
    }
  }

  /** Deletes keys from every tier and instance. */
  async deleteKeys(fulls: string[]): Promise<void> {
    this.dropLocal(fulls)
    await this.l2?.del(fulls)
  }

  /** Deletes entries carrying one of `tags` (encoded) in every tier and instance. */
  async deleteByTag(tags: string[]): Promise<void> {
    this.deferred.changed()
    this.l2?.touchAll()
    for (const t of tags) this.memory?.deleteByTag(t)
    await this.l2?.deleteByTag(tags)
  }

  /** Expires entries carrying one of `tags` now (they stay within grace). */
  async expireByTag(tags: string[]): Promise<void> {
    const now = this.options.clock.now()
    this.deferred.changed()
    this.l2?.touchAll()
    for (const t of tags) this.memory?.expireByTag(t, now)
    await this.l2?.expireByTag(tags, now)
  }

  /** Clears a namespace ('' : everything). */
  async clear(ns: string): Promise<void> {
    this.deferred.changed()
    this.l2?.touchAll()
    this.memory?.deleteByPrefix(ns)
    await this.l2?.clear(ns)
  }

  // --- other instances ------------------------------------------------------------------------

  /** Applies an invalidation from another instance to L1. */
  applyInvalidation(msg: Invalidation): void {
    this.deferred.changed()
    if (msg.t === 's' || msg.t === 'd') for (const k of msg.k) this.l2?.touchKey(k)
    else this.l2?.touchAll()
    const mem = this.memory
    if (mem === undefined) return
    switch (msg.t) {
      case 's':
      case 'd':
        for (const k of msg.k) mem.delete(k)
        break
      case 'td':
        for (const tag of msg.k) mem.deleteByTag(tag)
        break
      case 'te':
        for (const tag of msg.k) mem.expireByTag(tag, msg.at ?? this.options.clock.now())
        break
      case 'c':
        for (const p of msg.k) mem.deleteByPrefix(p)
        break
      case 'f':
        mem.clear()
        break
    }
  }

  /** The bus reconnected: invalidations may have been missed, so L1 is flushed. */
  busGap(): void {
    this.deferred.changed()
    this.memory?.clear()
    this.l2?.touchAll()
    if (this.events.has('flush')) this.events.emit('flush', { reason: 'bus-gap' })
  }

  // --- lifecycle ----------------------------------------------------------------------------

  /** Counters and state. */
  stats(): CacheStats {
    const c = this.c
    const mem = this.memory
    const l1Hits = c.l1Hits + (mem?.syncHits ?? 0)
    const l1Misses = c.l1Misses + (mem?.syncMisses ?? 0)
    const l1Total = l1Hits + l1Misses
    const guard = this.l2?.store.guard
    const bus = this.l2?.bus
    const replay = this.l2?.stats()
    return {
      name: this.options.name,
      l1: {
        enabled: mem !== undefined,
        hits: l1Hits,
        misses: l1Misses,
        entries: mem?.size ?? 0,
        bytes: mem?.bytes ?? 0,
        maxEntries: mem?.maxEntries ?? 0,
        maxBytes: mem?.maxBytes ?? 0,
        evictions: mem?.evictions ?? 0,
        hitRatio: l1Total === 0 ? 0 : l1Hits / l1Total,
      },
      l2: {
        enabled: this.l2 !== undefined,
        hits: c.l2Hits,
        misses: c.l2Misses,
        errors: guard?.errors ?? 0,
        refused: guard?.refused ?? 0,
        timeouts: guard?.timeouts ?? 0,
        breaker: guard?.state ?? 'none',
        busConnected: bus?.connected ?? false,
        busGaps: bus?.gaps ?? 0,
        busMalformed: bus?.malformed ?? 0,
        pendingWrites: replay?.pendingWrites ?? 0,
        droppedWrites: replay?.droppedWrites ?? 0,
      },
      loader: { calls: c.loads, errors: c.loadErrors, timeouts: c.loadTimeouts, earlyRefreshes: c.early },
      staleServes: c.stale,
      lock: { acquired: c.lockAcquired, waitedForValue: c.lockWaited },
      // the synchronous hits save their loads too (regression: getSync hits added nothing)
      savedMs: c.savedMs + (mem?.syncSavedMs ?? 0),
    }
  }

  /** Stops timers, aborts running loaders, closes connections the cache opened. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    // an empty store that takes nothing: getSync checks for a closed cache only on a miss
    this.memory?.close()
    // running loaders see their signal abort; their results are not stored (nobody waits for them)
    this.loads.abortAll(new ClosedError(`cache "${this.options.name}"`))
    // loaded values whose callers were already answered still go to L2 before it closes
    if (this.writing.size > 0) await Promise.all(this.writing)
    this.l2?.close()
    const client = this.client
    if (this.ownsClient && client !== undefined) {
      // QUIT waits for Redis' answer; a frozen Redis never gives one, so close() gives it one
      // L2 timeout and then drops the connection (regression: close() hung while Redis was paused)
      const timeout = this.options.redis?.timeout ?? 200
      await Promise.race([client.quit().catch(() => {}), new Promise((r) => setTimeout(r, timeout).unref())])
      client.disconnect()
    }
    this.detachMonitor?.()
    this.events.clear()
  }
}
