/**
 * The engine behind every cache view (namespaces share it): tiers, single-flight, loader runs,
 * freshness (grace, soft/hard timeouts, stale-while-revalidate), the cross-instance lock,
 * invalidation handling and counters.
 */
import { randomBytes } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import { AbortedError, ClosedError, isHotpathError, LoaderError, LoaderTimeoutError } from '../errors.js'
import { Events } from '../events.js'
import { systemClock } from '../time.js'
import { type Invalidation, InvalidationBus } from './invalidation.js'
import { FAIL, type Fail, REFUSED, type Refused } from './l2-guard.js'
import { entrySize } from './memory/size.js'
import { MemoryStore } from './memory/store.js'
import type { ResolvedCacheOptions, ResolvedPolicy, StandardSchema } from './options.js'
import { type AnyRedis, connect, RedisStore } from './redis-store.js'
import { decode, encode, type WireEntry } from './serializer.js'
import type { CacheEvents, CacheStats, Loader, StaleReason } from './types.js'

/** Marks "no usable value" inside the engine (undefined is a legal loader result). */
export const NOTHING: unique symbol = Symbol('hotpath.nothing')
type Nothing = typeof NOTHING
const RESOLVED_NOTHING: Promise<unknown> = Promise.resolve(NOTHING)

interface Stale {
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

/** The shared engine of a cache and its namespaces. */
export class CacheEngine {
  readonly o: ResolvedCacheOptions
  readonly memory: MemoryStore | undefined
  readonly l2: RedisStore | undefined
  readonly bus: InvalidationBus | undefined
  readonly events = new Events<CacheEvents>()
  /** Set by createCache(): detaches the cache from its monitor when it closes. */
  detachMonitor: (() => void) | undefined
  readonly c: Counters = {
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
  /** In-flight loads by full key (single-flight). */
  readonly flights = new Map<string, Promise<unknown>>()
  /** The stale value each running flight knows of, so callers that join it can be served stale too. */
  private readonly flightStale = new Map<string, { s: Stale | undefined }>()
  /**
   * Bumped by invalidations that reach unknown keys (tags, clear, a bus gap). An L2 read fills
   * L1 only if this did not move and its own key was not written or invalidated meanwhile, so a
   * read that raced with an invalidation never puts the old value back into L1.
   */
  epoch = 0
  /**
   * L2 writes that could not be made (breaker open, timeout), latest per target, replayed in
   * order when the breaker closes so a delete made during an outage does not come undone.
   */
  private readonly replay = new Map<string, () => Promise<unknown>>()
  /** Replays dropped because the queue was full. */
  replayDropped = 0
  /** Keys with L2 reads in flight, and whether one of them was invalidated meanwhile. */
  private readonly reads = new Map<string, { n: number; dirty: boolean }>()
  closed = false
  private readonly channel: string
  private readonly ownsClient: boolean
  private cachedNow = 0
  private readonly coarse: boolean
  private readonly controllers = new Set<AbortController>()

  constructor(o: ResolvedCacheOptions) {
    this.o = o
    this.coarse = o.clock === systemClock
    if (o.memory !== false) {
      this.memory = new MemoryStore(o.memory)
    }
    this.channel = `${o.prefix}__inv`
    this.ownsClient = false
    if (o.redis !== undefined) {
      const r = o.redis
      let client: AnyRedis
      if (typeof r.connection === 'string') {
        client = connect(r.connection)
        this.ownsClient = true
        client.on('error', (err: unknown) => this.emitL2Error('connection', err))
      } else {
        client = r.connection
      }
      this.l2 = new RedisStore({
        client,
        prefix: o.prefix,
        timeout: r.timeout,
        breakerThreshold: r.breakerThreshold,
        breakerProbeInterval: r.breakerProbeInterval,
        clock: o.clock,
        onError: (op, error) => this.emitL2Error(op, error),
        onRefused: (op, error) => this.emitL2Error(op, error),
        onBreaker: (state) => {
          if (state === 'closed') void this.replayWrites()
          if (this.events.has('breaker')) this.events.emit('breaker', { state })
        },
      })
      if (r.bus) {
        this.bus = new InvalidationBus({
          client,
          channel: this.channel,
          onMessage: (msg) => this.applyInvalidation(msg),
          onMalformed: (error) => this.emitL2Error('invalidation', error),
          onGap: () => {
            this.memory?.clear()
            this.epoch++
            if (this.events.has('flush')) this.events.emit('flush', { reason: 'bus-gap' })
          },
        })
      }
    }
    if (this.memory !== undefined) {
      this.memory.onEvict = null
    }
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

  /** The clock's time; with the system clock, read at most once per millisecond. */
  now(): number {
    if (!this.coarse) return this.o.clock.now()
    if (this.cachedNow === 0) {
      this.cachedNow = Date.now()
      setTimeout(() => {
        this.cachedNow = 0
      }, 1).unref()
    }
    return this.cachedNow
  }

  private emitL2Error(op: string, error: unknown): void {
    if (this.events.has('l2-error')) this.events.emit('l2-error', { op, error })
  }

  /** Counts an L1 hit on `slot` (the hot path calls this inline-sized helper). */
  l1Hit(key: string, slot: number): void {
    this.c.l1Hits++
    this.c.savedMs += (this.memory as MemoryStore).delta[slot] as number
    if (this.events.has('hit')) this.events.emit('hit', { key, tier: 'l1', stale: false })
  }

  private l1Miss(key: string): void {
    this.c.l1Misses++
    if (this.events.has('miss')) this.events.emit('miss', { key, tier: 'l1' })
  }

  private serveStale(key: string, reason: StaleReason): void {
    this.c.stale++
    if (this.events.has('stale')) this.events.emit('stale', { key, reason })
  }

  // --- reads ------------------------------------------------------------------------------

  /** Validates `value` against `schema`; NOTHING when it fails. */
  async validate(schema: StandardSchema, value: unknown): Promise<unknown> {
    let r = schema['~standard'].validate(value)
    if (r instanceof Promise) r = await r
    return r.issues === undefined ? r.value : NOTHING
  }

  /**
   * Reads a fresh value from L2, filling L1; NOTHING when absent, stale or unusable. Stale
   * entries go to `staleOut`. One `.then` and no async frames on the common path: this is the
   * L2 hot path.
   */
  readL2(full: string, policy: ResolvedPolicy, staleOut?: { s: Stale | undefined }): Promise<unknown> {
    const l2 = this.l2
    if (l2 === undefined || policy.skipL2) return RESOLVED_NOTHING
    if (this.memory === undefined) {
      // no L1 to fill: nothing to guard
      return l2.get(full).then((buf) => this.afterRead(full, buf, policy, false, staleOut))
    }
    const ticket = this.beginRead(full)
    return l2.get(full).then((buf) => this.afterRead(full, buf, policy, this.endRead(ticket), staleOut))
  }

  /** Registers an L2 read of `full`; pass the ticket to endRead() when it returns. */
  beginRead(full: string): { full: string; epoch: number } {
    const r = this.reads.get(full)
    if (r === undefined) this.reads.set(full, { n: 1, dirty: false })
    else r.n++
    return { full, epoch: this.epoch }
  }

  /** Ends a read; true when its value may fill L1 (nothing invalidated it meanwhile). */
  endRead(ticket: { full: string; epoch: number }): boolean {
    const r = this.reads.get(ticket.full)
    const dirty = r?.dirty === true
    if (r !== undefined && --r.n === 0) this.reads.delete(ticket.full)
    return !dirty && ticket.epoch === this.epoch
  }

  /** A key was written or invalidated: reads of it in flight must not fill L1. */
  touchKey(full: string): void {
    const r = this.reads.get(full)
    if (r !== undefined) r.dirty = true
  }

  private afterRead(
    full: string,
    buf: Buffer | null | Fail | Refused,
    policy: ResolvedPolicy,
    fill: boolean,
    staleOut: { s: Stale | undefined } | undefined,
  ): unknown {
    if (buf === FAIL) return NOTHING
    if (buf === null || buf === REFUSED) {
      this.l2Miss(full)
      return NOTHING
    }
    let entry: WireEntry
    try {
      entry = decode(buf)
    } catch (err) {
      this.emitL2Error('decode', err)
      this.l2Miss(full)
      return NOTHING
    }
    return this.acceptL2(full, entry, policy, fill, staleOut)
  }

  private l2Miss(full: string): void {
    this.c.l2Misses++
    if (this.events.has('miss')) this.events.emit('miss', { key: full, tier: 'l2' })
  }

  /**
   * Handles a decoded L2 entry: fresh → L1 + value; stale → staleOut; NOTHING otherwise.
   * Synchronous unless a schema must validate asynchronously.
   */
  acceptL2(
    full: string,
    entry: WireEntry,
    policy: ResolvedPolicy,
    fill: boolean,
    staleOut?: { s: Stale | undefined },
  ): unknown {
    if (policy.schema === undefined) return this.acceptValue(full, entry, entry.value, fill, staleOut)
    const r = policy.schema['~standard'].validate(entry.value)
    if (r instanceof Promise) {
      return r.then((res) => this.acceptValidated(full, entry, res, fill, staleOut))
    }
    return this.acceptValidated(full, entry, r, fill, staleOut)
  }

  private acceptValidated(
    full: string,
    entry: WireEntry,
    r: { value?: unknown; issues?: ReadonlyArray<unknown> },
    fill: boolean,
    staleOut: { s: Stale | undefined } | undefined,
  ): unknown {
    if (r.issues !== undefined) {
      this.l2Miss(full)
      return NOTHING
    }
    return this.acceptValue(full, entry, r.value, fill, staleOut)
  }

  private acceptValue(
    full: string,
    entry: WireEntry,
    value: unknown,
    fill: boolean,
    staleOut: { s: Stale | undefined } | undefined,
  ): unknown {
    const now = this.o.clock.now()
    if (entry.expiresAt > now) {
      this.c.l2Hits++
      this.c.savedMs += entry.delta
      if (this.events.has('hit')) this.events.emit('hit', { key: full, tier: 'l2', stale: false })
      if (this.memory !== undefined && fill) {
        this.memory.set(
          full,
          value,
          entry.expiresAt,
          entry.staleUntil,
          entry.delta,
          this.sizeOf(full, value),
          entry.tags,
        )
      }
      return value
    }
    this.l2Miss(full)
    if (
      staleOut !== undefined &&
      entry.staleUntil > now &&
      (staleOut.s === undefined || staleOut.s.expiresAt < entry.expiresAt)
    ) {
      staleOut.s = { value, expiresAt: entry.expiresAt, staleUntil: entry.staleUntil }
    }
    return NOTHING
  }

  /** The L1 size of an entry (heap bytes as V8 holds them); a bad custom sizeOf throws a TypeError. */
  private sizeOf(full: string, value: unknown): number {
    return entrySize(full, value, this.o.memory === false ? undefined : this.o.memory.sizeOf)
  }

  /**
   * The miss path of getOrSet: L1 stale, L2, single-flight, loader with grace and timeouts.
   * `slot` is the L1 slot found by the fast path (stale or failing the schema), or -1.
   */
  async resolve<T>(
    full: string,
    key: string,
    loader: Loader<T>,
    policy: ResolvedPolicy,
    signal: AbortSignal | undefined,
  ): Promise<T> {
    if (this.closed) throw new ClosedError(`cache "${this.o.name}"`)
    if (signal?.aborted) throw new AbortedError(signal.reason)
    let now = this.o.clock.now()
    const box: { s: Stale | undefined } = { s: undefined }
    const mem = this.memory
    if (mem !== undefined) {
      const slot = mem.peek(full)
      if (slot >= 0) {
        const staleUntil = mem.staleUntil[slot] as number
        const expiresAt = mem.expiresAt[slot] as number
        if (expiresAt > now && policy.schema !== undefined) {
          // fresh but the fast path's schema check failed: drop it
          mem.delete(full)
        } else if (staleUntil > now && expiresAt <= now) {
          box.s = { value: mem.valueAt(slot), expiresAt, staleUntil }
        }
      }
      this.l1Miss(full)
    }
    let flight = this.flights.get(full) as Promise<T | Nothing> | undefined
    let readDone = false
    if (
      flight === undefined &&
      box.s === undefined &&
      (policy.swr > 0 || policy.softTimeout > 0) &&
      this.l2 !== undefined &&
      !policy.skipL2
    ) {
      // stale-while-revalidate and the soft timeout need to know about a stale L2 copy before
      // the loader starts, so read L2 first (the flight then skips its own read)
      const fromL2 = await this.readL2(full, policy, box)
      if (fromL2 !== NOTHING) return fromL2 as T
      readDone = true
      flight = this.flights.get(full) as Promise<T | Nothing> | undefined
    }
    if (flight === undefined) {
      const started = this.fly(full, key, loader, policy, box, readDone)
      flight = started
      this.flights.set(full, started)
      this.flightStale.set(full, box)
      const clear = () => {
        if (this.flights.get(full) === started) {
          this.flights.delete(full)
          this.flightStale.delete(full)
        }
      }
      started.then(clear, clear)
    } else if (box.s === undefined) {
      box.s = this.flightStale.get(full)?.s
    }
    const stale = box.s
    if (readDone) now = this.o.clock.now()
    if (
      stale !== undefined &&
      policy.swr > 0 &&
      now < stale.expiresAt + policy.swr &&
      now < stale.staleUntil
    ) {
      flight.catch(() => {})
      this.serveStale(full, 'swr')
      return stale.value as T
    }
    let result: T | Nothing
    if (stale !== undefined && policy.softTimeout > 0 && now < stale.staleUntil) {
      result = await this.race(flight, policy.softTimeout, signal)
      // the stale value is checked against the clock when it is served, not when it was found
      // (regression: a caller joining a long load was served a value 700 ms past ttl + grace)
      if (result === NOTHING && this.o.clock.now() < stale.staleUntil) {
        flight.catch(() => {})
        this.serveStale(full, 'soft-timeout')
        return stale.value as T
      }
      if (result === NOTHING) result = await this.race(flight, 0, signal)
    } else {
      result = await this.race(flight, 0, signal)
    }
    return result as T
  }

  /** Waits for `p`, or NOTHING after `ms` (0: no limit); rejects when `signal` aborts. */
  private race<T>(p: Promise<T>, ms: number, signal: AbortSignal | undefined): Promise<T | Nothing> {
    if (ms === 0 && signal === undefined) return p
    return new Promise<T | Nothing>((resolve, reject) => {
      const clock = this.o.clock
      const timer = ms > 0 ? clock.setTimeout(() => resolve(NOTHING), ms) : undefined
      const onAbort = () => reject(new AbortedError(signal?.reason))
      signal?.addEventListener('abort', onAbort, { once: true })
      p.then(
        (v) => {
          if (timer !== undefined) clock.clearTimeout(timer)
          signal?.removeEventListener('abort', onAbort)
          resolve(v)
        },
        (e: unknown) => {
          if (timer !== undefined) clock.clearTimeout(timer)
          signal?.removeEventListener('abort', onAbort)
          reject(e)
        },
      )
    })
  }

  /** One flight: L2, then (under the lock if configured) the loader. */
  private async fly<T>(
    full: string,
    key: string,
    loader: Loader<T>,
    policy: ResolvedPolicy,
    box: { s: Stale | undefined },
    l2AlreadyRead: boolean,
  ): Promise<T> {
    if (!l2AlreadyRead) {
      const fromL2 = await this.readL2(full, policy, box)
      if (fromL2 !== NOTHING) return fromL2 as T
    }
    if (this.o.lock !== undefined && this.l2 !== undefined && !policy.skipL2) {
      return this.loadLocked(full, key, loader, policy, box.s)
    }
    return this.load(full, key, loader, policy, box.s, false)
  }

  /** Runs the loader under the cross-instance lock, or waits for the holder's value. */
  private async loadLocked<T>(
    full: string,
    key: string,
    loader: Loader<T>,
    policy: ResolvedPolicy,
    stale: Stale | undefined,
  ): Promise<T> {
    const l2 = this.l2 as RedisStore
    const lock = this.o.lock as { ttl: number; wait: number }
    const token = randomBytes(12).toString('base64')
    const clock = this.o.clock
    const deadline = clock.now() + lock.wait
    let pause = 5
    for (;;) {
      const got = await l2.lock(full, token, lock.ttl)
      if (got === FAIL) return this.load(full, key, loader, policy, stale, false)
      if (got) {
        this.c.lockAcquired++
        try {
          // the previous holder may have stored the value between our read and our lock
          const fresh = await this.readL2(full, policy)
          if (fresh !== NOTHING) return fresh as T
          return await this.load(full, key, loader, policy, stale, false)
        } finally {
          void l2.unlock(full, token)
        }
      }
      await new Promise<void>((r) => clock.setTimeout(r, pause))
      pause = Math.min(pause * 2, 50)
      const fresh = await this.readL2(full, policy)
      if (fresh !== NOTHING) {
        this.c.lockWaited++
        return fresh as T
      }
      if (this.closed) throw new ClosedError(`cache "${this.o.name}"`)
      if (clock.now() >= deadline) return this.load(full, key, loader, policy, stale, false)
    }
  }

  /** Runs the loader with the hard timeout, stores the result, serves stale on failure. */
  async load<T>(
    full: string,
    key: string,
    loader: Loader<T>,
    policy: ResolvedPolicy,
    stale: Stale | undefined,
    early: boolean,
  ): Promise<T> {
    const ac = new AbortController()
    this.controllers.add(ac)
    const clock = this.o.clock
    this.c.loads++
    const t0 = performance.now()
    let timer: unknown
    try {
      let p = Promise.resolve().then(() =>
        loader({ key, signal: ac.signal, stale: stale?.value as T | undefined }),
      )
      if (policy.hardTimeout > 0) {
        p = Promise.race([
          p,
          new Promise<never>((_, reject) => {
            timer = clock.setTimeout(() => {
              const err = new LoaderTimeoutError(key, policy.hardTimeout)
              ac.abort(err)
              reject(err)
            }, policy.hardTimeout)
          }),
        ])
      }
      const value = await p
      const durationMs = performance.now() - t0
      if (this.events.has('load')) this.events.emit('load', { key: full, durationMs, ok: true, early })
      // the caller is answered now; the L2 write and its invalidation follow in order in the
      // background (regression: a miss paid the read timeout and then the write timeout)
      if (value !== undefined && !this.closed) void this.put(full, value, policy, durationMs)
      return value
    } catch (err) {
      const timedOut = isHotpathError(err, 'E_LOADER_TIMEOUT')
      if (timedOut) this.c.loadTimeouts++
      else this.c.loadErrors++
      if (this.events.has('load')) {
        this.events.emit('load', { key: full, durationMs: performance.now() - t0, ok: false, early })
      }
      if (isHotpathError(err, 'E_SERIALIZE')) throw err
      if (stale !== undefined && stale.staleUntil > clock.now()) {
        this.serveStale(full, timedOut ? 'hard-timeout' : 'loader-error')
        return stale.value as T
      }
      if (timedOut) throw err
      throw new LoaderError(key, err)
    } finally {
      if (timer !== undefined) clock.clearTimeout(timer)
      this.controllers.delete(ac)
    }
  }

  /** Starts a background refresh unless one runs already (XFetch). */
  refreshEarly<T>(full: string, key: string, loader: Loader<T>, policy: ResolvedPolicy): void {
    if (this.flights.has(full) || this.closed) return
    this.c.early++
    const flight = this.load(full, key, loader, policy, undefined, true)
    this.flights.set(full, flight)
    const clear = () => {
      if (this.flights.get(full) === flight) this.flights.delete(full)
    }
    flight.then(clear, clear)
  }

  // --- writes -----------------------------------------------------------------------------

  /** Stores a value in L1 and L2 and tells other instances. Throws SerializeError before touching anything. */
  async store(full: string, value: unknown, policy: ResolvedPolicy, delta: number): Promise<void> {
    await this.put(full, value, policy, delta)
  }

  /**
   * Encodes `value` and sets L1 synchronously (throwing SerializeError before touching anything),
   * then starts the L2 write; the returned promise (which never rejects) ends when the write and
   * its invalidation are done. Writes start in call order on one connection, so they land in order.
   */
  put(full: string, value: unknown, policy: ResolvedPolicy, delta: number): Promise<void> | undefined {
    const now = this.o.clock.now()
    const expiresAt = now + policy.ttl
    const staleUntil = expiresAt + policy.grace
    const tags = policy.tags
    const l2 = this.l2 !== undefined && !policy.skipL2 ? this.l2 : undefined
    let buf: Buffer | undefined
    if (l2 !== undefined) {
      const compress = this.o.redis === undefined ? 0 : this.o.redis.compressAbove
      buf = encode(value, tags, expiresAt, staleUntil, delta, compress)
    }
    this.touchKey(full)
    if (this.memory !== undefined) {
      this.memory.set(full, value, expiresAt, staleUntil, delta, this.sizeOf(full, value), tags)
    }
    if (l2 === undefined || buf === undefined) return undefined
    const b = buf
    return this.writeL2(`k:${full}`, () => l2.set(full, b, staleUntil - this.o.clock.now(), tags), {
      t: 's',
      k: [full],
    })
  }

  /**
   * Runs an L2 write and publishes its invalidation; when L2 cannot take it, queues it (latest
   * per `id`) for replay when L2 is back.
   */
  async writeL2(id: string, op: () => Promise<unknown>, msg: Invalidation): Promise<void> {
    const r = await op()
    if (r === REFUSED) {
      // Redis is up and will never take this write: retrying it would only fail again. What L2
      // held for the target is now older than this instance's L1, so drop it (best effort) and
      // tell the other instances, so no tier keeps serving the value this write replaced.
      this.replay.delete(id)
      if (msg.t === 's' && this.l2 !== undefined) await this.l2.del(msg.k)
      this.publish(msg.t === 's' ? { t: 'd', k: msg.k } : msg)
      return
    }
    if (r !== FAIL) {
      // a newer successful write supersedes whatever was queued for the same target
      this.replay.delete(id)
      this.publish(msg)
      return
    }
    this.replay.delete(id)
    if (this.replay.size >= 10_000) {
      const oldest = this.replay.keys().next().value as string
      this.replay.delete(oldest)
      this.replayDropped++
    }
    this.replay.set(
      id,
      msg.t === 's' || msg.t === 'd' ? () => this.replayAsDelete(msg.k) : () => this.replayOp(op, msg),
    )
  }

  /**
   * A write or delete that missed L2 is replayed as a delete, never as the write: by the time L2
   * is back, another instance may have written a newer value or deleted the key, and replaying
   * the old value would overwrite or resurrect it (regression: A's queued write landed after B's
   * newer one and won everywhere). Deleting is always safe for a cache: the next read loads the
   * current value. This instance's own L1 copy goes too, for the same reason.
   */
  private async replayAsDelete(keys: string[]): Promise<unknown> {
    for (const k of keys) {
      this.touchKey(k)
      this.memory?.delete(k)
    }
    const r = await (this.l2 as RedisStore).del(keys)
    if (r === FAIL) return FAIL
    this.publish({ t: 'd', k: keys })
    return undefined
  }

  /** Tag deletes and expiries and clears only ever invalidate, so they are replayed as they were. */
  private async replayOp(op: () => Promise<unknown>, msg: Invalidation): Promise<unknown> {
    if ((await op()) === FAIL) return FAIL
    this.publish(msg)
    return undefined
  }

  private async replayWrites(): Promise<void> {
    for (const [id, run] of [...this.replay]) {
      if (this.closed || this.l2?.guard.state !== 'closed') return
      if (this.replay.get(id) !== run) continue
      if ((await run()) === FAIL) return
      if (this.replay.get(id) === run) this.replay.delete(id)
    }
  }

  /** Publishes an invalidation (best effort, not awaited by callers). */
  publish(msg: Invalidation): void {
    if (this.bus === undefined || this.l2 === undefined) return
    void this.l2.publish(this.channel, this.bus.encode(msg))
  }

  /** Applies an invalidation from another instance to L1. */
  applyInvalidation(msg: Invalidation): void {
    if (msg.t === 's' || msg.t === 'd') for (const k of msg.k) this.touchKey(k)
    else this.epoch++
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
        for (const tag of msg.k) mem.expireByTag(tag, msg.at ?? this.o.clock.now())
        break
      case 'c':
        for (const p of msg.k) mem.deleteByPrefix(p)
        break
      case 'f':
        mem.clear()
        break
    }
  }

  // --- lifecycle --------------------------------------------------------------------------

  /** Counters and state. */
  stats(): CacheStats {
    const c = this.c
    const mem = this.memory
    const l1Hits = c.l1Hits + (mem?.syncHits ?? 0)
    const l1Misses = c.l1Misses + (mem?.syncMisses ?? 0)
    const l1Total = l1Hits + l1Misses
    return {
      name: this.o.name,
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
        errors: this.l2?.guard.errors ?? 0,
        refused: this.l2?.guard.refused ?? 0,
        timeouts: this.l2?.guard.timeouts ?? 0,
        breaker: this.l2?.guard.state ?? 'none',
        busConnected: this.bus?.connected ?? false,
        busGaps: this.bus?.gaps ?? 0,
        busMalformed: this.bus?.malformed ?? 0,
        pendingWrites: this.replay.size,
        droppedWrites: this.replayDropped,
      },
      loader: { calls: c.loads, errors: c.loadErrors, timeouts: c.loadTimeouts, earlyRefreshes: c.early },
      staleServes: c.stale,
      lock: { acquired: c.lockAcquired, waitedForValue: c.lockWaited },
      savedMs: c.savedMs,
    }
  }

  /** Stops timers, aborts running loaders, closes connections the cache opened. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    // running loaders see their signal abort; their results are not stored (nobody waits for them)
    for (const ac of this.controllers) ac.abort(new ClosedError(`cache "${this.o.name}"`))
    this.l2?.close()
    this.bus?.close()
    if (this.ownsClient && this.l2 !== undefined) {
      // QUIT waits for Redis' answer; a frozen Redis never gives one, so close() gives it one
      // L2 timeout and then drops the connection (regression: close() hung while Redis was paused)
      const client = this.l2.client
      const timeout = this.o.redis?.timeout ?? 200
      await Promise.race([client.quit().catch(() => {}), new Promise((r) => setTimeout(r, timeout).unref())])
      client.disconnect()
    }
    this.detachMonitor?.()
    this.events.clear()
  }
}
