/**
 * A batch loader with DataLoader's semantics (graphql/dataloader): every `load()` made in one tick
 * of execution, plus the promise jobs after it, becomes one call of the batch function, which
 * returns values (or Errors) in key order; `maxBatchSize`, `cacheKeyFn`, `prime`, `clear`,
 * `clearAll`. Differences, on purpose:
 * - the cache is bounded by default (LRU by entries, plus a TTL): DataLoader's default Map grows
 *   forever, which has leaked in long-lived loaders (graphql-hive/gateway#1085, opencti#2878);
 * - an Error for one key is not cached (DataLoader caches it until `clear`), so a transient
 *   failure is retried by the next load;
 * - batch sizes, the wait before a batch is sent and batch durations are kept as histograms.
 * Scheduling mirrors DataLoader's: after the current promise jobs, on `process.nextTick`, which
 * `queueMicrotask` alone cannot reproduce (dataloader#180).
 */
import { type Disposer, Events } from '../events.js'
import { assertKnownKeys } from '../options.js'
import { type Clock, type Duration, systemClock, toMs } from '../time.js'
import type { Instrumentable, MonitorLike } from '../types.js'
import { Histogram, type HistogramSnapshot } from './histogram.js'

/** The batch function: values (or Error instances) aligned with `keys`. */
export type BatchFn<K, V> = (keys: readonly K[]) => Promise<ReadonlyArray<V | Error>>

/** Options of `createLoader()`. */
export interface LoaderOptions<K, C = K> {
  /**
   * Name used in metrics.
   * @default 'loader'
   */
  name?: string
  /**
   * Most keys per call of the batch function (bigger batches are split).
   * @default 1000
   */
  maxBatchSize?: number
  /** Maps a key to its cache key (objects as keys need one). @default the key itself */
  cacheKeyFn?: (key: K) => C
  /**
   * The per-key result cache, or false for none (every load goes to a batch, repeats included,
   * as in DataLoader).
   * @default { maxEntries: 10000, ttl: '5m' }
   */
  cache?: false | { maxEntries?: number; ttl?: Duration }
  /** A monitor (hotpath/metrics) to report batch figures into. */
  monitor?: MonitorLike
  /** Clock for TTLs (tests pass a FakeClock). @default systemClock */
  clock?: Clock
}

/** Events of a loader. */
export interface LoaderEvents {
  /** A batch was sent and answered (or failed). */
  batch: { size: number; waitMs: number; durationMs: number; ok: boolean }
}

/** A loader's figures. */
export interface LoaderStats {
  name: string
  loads: number
  cacheHits: number
  batches: number
  keysLoaded: number
  errors: number
  cacheEntries: number
  /** Keys per batch (counts, not milliseconds, despite the field names). */
  batchSize: HistogramSnapshot
  /** Time from the first load of a batch to sending it. */
  batchWait: HistogramSnapshot
  /** Time the batch function took. */
  batchDuration: HistogramSnapshot
}

interface Pending<K, V> {
  keys: K[]
  /** Parallel to `keys`. */
  settle: Array<{ resolve: (v: V) => void; reject: (e: unknown) => void }>
  since: number
}

interface Slot<V> {
  promise: Promise<V>
  expires: number
}

let resolved: Promise<void> | undefined
function schedule(fn: () => void): void {
  resolved ??= Promise.resolve()
  resolved.then(() => process.nextTick(fn))
}

/** A batch loader. Create it with `createLoader()`; make one per request when values depend on who asks. */
export class Loader<K, V, C = K> implements Instrumentable {
  readonly kind = 'loader'
  readonly name: string
  private readonly events = new Events<LoaderEvents>()
  private readonly map = new Map<unknown, Slot<V>>()
  private pending: Pending<K, V> | undefined
  private readonly maxBatch: number
  private readonly keyFn: ((key: K) => C) | undefined
  private readonly maxEntries: number
  private readonly ttl: number
  private readonly clock: Clock
  private readonly sizes = new Histogram()
  private readonly waits = new Histogram()
  private readonly durations = new Histogram()
  private loads = 0
  private hits = 0
  private batches = 0
  private keysLoaded = 0
  private errors = 0
  private detach: Disposer | undefined
  constructor(
    private readonly batchFn: BatchFn<K, V>,
    options: LoaderOptions<K, C> = {},
  ) {
    if (typeof batchFn !== 'function')
      throw new TypeError(`batch function must be a function; received ${typeof batchFn}`)
    assertKnownKeys(
      options,
      ['name', 'maxBatchSize', 'cacheKeyFn', 'cache', 'monitor', 'clock'],
      'loader options',
    )
    this.name = options.name ?? 'loader'
    const max = options.maxBatchSize ?? 1000
    if (!Number.isInteger(max) || max < 1)
      throw new RangeError(`maxBatchSize must be an integer >= 1; received ${max}`)
    this.maxBatch = max
    if (options.cacheKeyFn !== undefined && typeof options.cacheKeyFn !== 'function') {
      throw new TypeError('cacheKeyFn must be a function')
    }
    this.keyFn = options.cacheKeyFn
    const c = options.cache
    if (c === false) {
      this.maxEntries = 0
      this.ttl = 0
    } else {
      if (c !== undefined) assertKnownKeys(c, ['maxEntries', 'ttl'], 'loader option cache')
      const n = c?.maxEntries ?? 10_000
      if (!Number.isInteger(n) || n < 1)
        throw new RangeError(`cache.maxEntries must be an integer >= 1; received ${n}`)
      this.maxEntries = n
      this.ttl = c?.ttl === undefined ? 300_000 : toMs(c.ttl, 'loader option cache.ttl')
    }
    this.clock = options.clock ?? systemClock
    this.detach = options.monitor?.attach(this)
  }

  private cacheKey(key: K): unknown {
    return this.keyFn === undefined ? key : this.keyFn(key)
  }

  /** Loads one key: batched with the other loads of this tick, or from the cache. */
  load(key: K): Promise<V> {
    // kept small so that V8 inlines it into the caller: without a cache a load is a push
    if (this.maxEntries === 0 && key !== null && key !== undefined) {
      this.loads++
      return this.enqueue(key)
    }
    return this.loadCached(key)
  }

  private loadCached(key: K): Promise<V> {
    if (key === null || key === undefined) {
      return Promise.reject(new TypeError(`load() needs a key; received ${String(key)}`))
    }
    this.loads++
    const ck = this.cacheKey(key)
    const slot = this.map.get(ck)
    if (slot !== undefined) {
      if (slot.expires > this.clock.now()) {
        // move to the most-recent end: Map order is the LRU order
        this.map.delete(ck)
        this.map.set(ck, slot)
        this.hits++
        return slot.promise
      }
      this.map.delete(ck)
    }
    const promise = this.enqueue(key)
    this.map.set(ck, { promise, expires: this.clock.now() + this.ttl })
    if (this.map.size > this.maxEntries) {
      const oldest = this.map.keys().next().value
      this.map.delete(oldest)
    }
    promise.catch(() => {
      const s = this.map.get(ck)
      if (s?.promise === promise) this.map.delete(ck)
    })
    return promise
  }

  /** Adds `key` to the batch being gathered (a new one when there is none, or it is full). */
  private enqueue(key: K): Promise<V> {
    let p = this.pending
    if (p === undefined || p.keys.length >= this.maxBatch) p = this.open()
    p.keys.push(key)
    const batch = p
    return new Promise<V>((resolve, reject) => {
      batch.settle.push({ resolve, reject })
    })
  }

  private open(): Pending<K, V> {
    const batch: Pending<K, V> = { keys: [], settle: [], since: performance.now() }
    this.pending = batch
    schedule(() => this.dispatch(batch))
    return batch
  }

  /** Loads several keys; each entry is the value or the Error for that key (like DataLoader). */
  loadMany(keys: readonly K[]): Promise<Array<V | Error>> {
    if (!Array.isArray(keys)) return Promise.reject(new TypeError('loadMany() takes an array of keys'))
    return Promise.all(
      keys.map((k) => this.load(k).catch((e: unknown) => (e instanceof Error ? e : new Error(String(e))))),
    )
  }

  private dispatch(p: Pending<K, V>): void {
    if (this.pending === p) this.pending = undefined
    const start = performance.now()
    this.waits.record(start - p.since)
    this.sizes.record(p.keys.length)
    this.batches++
    this.keysLoaded += p.keys.length
    let answer: Promise<ReadonlyArray<V | Error>>
    try {
      answer = Promise.resolve(this.batchFn(p.keys))
    } catch (err) {
      this.fail(p, start, err)
      return
    }
    answer.then(
      (values) => this.deliver(p, start, values),
      (err: unknown) => this.fail(p, start, err),
    )
  }

  private deliver(p: Pending<K, V>, start: number, values: ReadonlyArray<V | Error>): void {
    if (!Array.isArray(values) || values.length !== p.keys.length) {
      this.fail(
        p,
        start,
        new TypeError(
          `the batch function must return an array of ${p.keys.length} values (one per key, in order); it returned ${Array.isArray(values) ? `${values.length}` : typeof values}`,
        ),
      )
      return
    }
    this.finish(p, start, true)
    const settle = p.settle
    for (let i = 0; i < values.length; i++) {
      const v = values[i] as V | Error
      const s = settle[i] as { resolve: (v: V) => void; reject: (e: unknown) => void }
      if (v instanceof Error) s.reject(v)
      else s.resolve(v)
    }
  }

  private fail(p: Pending<K, V>, start: number, err: unknown): void {
    this.errors++
    this.finish(p, start, false)
    for (const s of p.settle) s.reject(err)
  }

  private finish(p: Pending<K, V>, start: number, ok: boolean): void {
    const ms = performance.now() - start
    this.durations.record(ms)
    if (this.events.has('batch')) {
      this.events.emit('batch', { size: p.keys.length, waitMs: start - p.since, durationMs: ms, ok })
    }
  }

  /** Puts a value in the cache (does nothing when the key is already cached, like DataLoader). */
  prime(key: K, value: V | Error): this {
    if (this.maxEntries === 0) return this
    const ck = this.cacheKey(key)
    if (value instanceof Error) return this
    // an expired entry is not cached any more (regression: it made prime() a no-op, and the next
    // load() went to the batch function instead of taking the primed value)
    const slot = this.map.get(ck)
    if (slot !== undefined && slot.expires > this.clock.now()) return this
    if (slot !== undefined) this.map.delete(ck)
    this.map.set(ck, { promise: Promise.resolve(value), expires: this.clock.now() + this.ttl })
    if (this.map.size > this.maxEntries) this.map.delete(this.map.keys().next().value)
    return this
  }

  /** Drops one key from the cache. */
  clear(key: K): this {
    this.map.delete(this.cacheKey(key))
    return this
  }

  /** Drops every cached key. */
  clearAll(): this {
    this.map.clear()
    return this
  }

  /** Subscribes to an event; returns a disposer. */
  on<E extends keyof LoaderEvents>(event: E, listener: (payload: LoaderEvents[E]) => void): Disposer {
    return this.events.on(event, listener)
  }

  /** Counters and histograms. */
  stats(): LoaderStats {
    return {
      name: this.name,
      loads: this.loads,
      cacheHits: this.hits,
      batches: this.batches,
      keysLoaded: this.keysLoaded,
      errors: this.errors,
      cacheEntries: this.map.size,
      batchSize: this.sizes.snapshot(),
      batchWait: this.waits.snapshot(),
      batchDuration: this.durations.snapshot(),
    }
  }

  /** Stops reporting to the monitor and drops the cache. */
  dispose(): void {
    this.detach?.()
    this.detach = undefined
    this.map.clear()
  }
}

/** Creates a batch loader (see Loader). */
export function createLoader<K, V, C = K>(
  batchFn: BatchFn<K, V>,
  options?: LoaderOptions<K, C>,
): Loader<K, V, C> {
  return new Loader(batchFn, options)
}

/** The parts of a Fastify instance `scopeLoaders` uses. */
export interface FastifyLike {
  decorateRequest(name: string, value: unknown): unknown
  addHook(
    name: 'onRequest',
    hook: (request: Record<string, unknown>, reply: unknown) => Promise<void>,
  ): unknown
}

/**
 * Gives every request its own loaders (`request[name]`), made by `factory` when the request
 * starts: a loader shared across requests would serve one user's rows to another
 * (graphql-modules#511), and a per-request one is dropped with its request.
 */
export function scopeLoaders<T>(app: FastifyLike, name: string, factory: (request: unknown) => T): void {
  if (typeof factory !== 'function')
    throw new TypeError('scopeLoaders(app, name, factory): factory must be a function')
  app.decorateRequest(name, null)
  app.addHook('onRequest', async (request) => {
    request[name] = factory(request)
  })
}
