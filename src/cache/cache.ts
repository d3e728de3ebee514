/**
 * The public cache object. A `Cache` is a view of an engine under a namespace prefix; the root
 * cache has the empty namespace and `namespace(name)` returns views that share the engine.
 * The L1-hit paths here are the hot paths: no allocation, no closures, no option objects.
 */

import { ClosedError, InvalidKeyError } from '../errors.js'
import type { Disposer } from '../events.js'
import { assertKnownKeys } from '../options.js'
import { toMs } from '../time.js'
import type { Instrumentable } from '../types.js'
import { CacheEngine, NOTHING } from './engine.js'
import { nsSegment, scoped, wellFormed } from './keys.js'
import type { MemoryStore } from './memory/store.js'
import type { CacheOptions, CallOptions, ResolvedPolicy, StandardSchema } from './option-types.js'
import { CALL_KEYS, MAX_TTL_MS, resolveCacheOptions, resolvePolicy } from './options.js'
import { newLoad } from './single-flight.js'
import { type CacheOperationTrace, tracingChannels } from './tracing.js'

type OperationChannel = typeof tracingChannels.get

/** '@': a key starting with it is escaped under the root (keys.ts). */
const AT = 64

import type { BatchLoader, CacheEvents, CacheStats, Loader, WarmEntry } from './types.js'

/** Options of `warm()` with a loader. */
export interface WarmFromLoader<T> {
  keys: readonly string[]
  loader: BatchLoader<T>
  /** Keys per loader call. @default 100 */
  batchSize?: number
  options?: CallOptions
}

/**
 * Frozen options whose nested parts are frozen too: their policy cannot change after it was
 * resolved (what the policy memo needs).
 */
function nestedFrozen(opts: CallOptions): boolean {
  return (
    (opts.timeouts === undefined || Object.isFrozen(opts.timeouts)) &&
    (opts.tags === undefined || Object.isFrozen(opts.tags))
  )
}

/** A multi-tier cache (or a namespace of one). */
export class Cache implements Instrumentable {
  readonly kind = 'cache'
  /** @internal */
  readonly engine: CacheEngine
  /** The encoded namespace prefix of this view ('' for the root; see keys.ts). */
  readonly ns: string
  /** The namespace names from the root to this view (traces carry them). */
  private readonly path: readonly string[]

  /** @internal use createCache() */
  constructor(engine: CacheEngine, ns: string, path: readonly string[] = []) {
    this.engine = engine
    this.ns = ns
    this.path = path
    this.maxKeyLength = engine.options.maxKeyLength
    this.mem = engine.memory
    this.defaults = this.scoped(engine.options.policy)
  }

  private readonly maxKeyLength: number
  /** The engine's L1 store (shared by every view), or undefined without one. */
  private readonly mem: MemoryStore | undefined
  /** The cache's default policy with tags in this view's namespace (no per-call work). */
  private readonly defaults: ResolvedPolicy
  /**
   * Policies resolved from frozen call options, by identity: callers that keep their options in
   * a frozen constant (the db layer does) pay the validation once, not on every call.
   */
  private readonly frozenPolicies = new WeakMap<CallOptions, ResolvedPolicy>()

  /** The tiers this cache has (read-only): `{ l1, l2 }`. */
  get tiers(): { readonly l1: boolean; readonly l2: boolean } {
    return this.engine.tiers
  }

  /** True when the cache has a Redis (L2) tier. */
  get hasL2(): boolean {
    return this.engine.l2 !== undefined
  }

  /** The cache's name (metrics label). */
  get name(): string {
    return this.engine.options.name
  }

  private check(key: unknown): string {
    const full = this.checkShape(key)
    if (!wellFormed(key as string)) throw invalidKey(key, this.engine.options.maxKeyLength)
    return full
  }

  /**
   * The checks an L1 hit needs. Well-formedness (what L2 needs) is checked on the miss paths and
   * by every write: a key that fails it can never have been stored, so it can never hit.
   */
  private checkShape(key: unknown): string {
    if (typeof key !== 'string' || key.length === 0 || key.length > this.engine.options.maxKeyLength) {
      throw invalidKey(key, this.engine.options.maxKeyLength)
    }
    if (this.engine.isClosed) throw new ClosedError(`cache "${this.engine.options.name}"`)
    return scoped(this.ns, key)
  }

  private policy(opts: CallOptions | undefined): ResolvedPolicy {
    if (opts === undefined) return this.defaults
    const frozen = Object.isFrozen(opts)
    if (frozen) {
      const known = this.frozenPolicies.get(opts)
      if (known !== undefined) return known
    }
    const p = this.resolveCall(opts)
    if (frozen && nestedFrozen(opts)) this.frozenPolicies.set(opts, p)
    return p
  }

  private resolveCall(opts: CallOptions): ResolvedPolicy {
    const o = this.engine.options
    let base = o.policy
    if (opts.type !== undefined) {
      const t = o.types.get(opts.type)
      if (t === undefined) {
        throw new TypeError(
          `type "${String(opts.type)}" is not one of the cache's types: ${[...o.types.keys()].join(', ') || '(none)'}`,
        )
      }
      base = t
    }
    assertKnownKeys(opts, CALL_KEYS, 'call options')
    const p = resolvePolicy(opts, base, 'call options')
    return this.scoped(p)
  }

  /** Tags live in the view's namespace, like keys. */
  private scoped(p: ResolvedPolicy): ResolvedPolicy {
    if (p.tags === undefined || (this.ns === '' && !p.tags.some((t) => t.startsWith('@')))) return p
    return Object.freeze({ ...p, tags: Object.freeze(p.tags.map((t) => scoped(this.ns, t))) })
  }

  /**
   * The fresh L1 value of `key`, synchronously, or undefined. Never touches L2 or a loader.
   * The cheapest read there is: use it on hot paths that can tolerate a miss.
   */
  getSync<T = unknown>(key: string): T | undefined {
    const mem = this.mem
    if (mem === undefined) return undefined
    if (typeof key === 'string') {
      const ns = this.ns
      const v = mem.getFresh(ns === '' && key.charCodeAt(0) !== AT ? key : scoped(ns, key), this.engine.now())
      if (v !== undefined) return v as T
    }
    // the checks are paid on a miss only: a bad key was never stored, and a closed cache's store
    // is empty, so neither can hit
    this.checkShape(key)
    return undefined
  }

  /** The L1 value of `key` if present (fresh or stale), without recording an access. */
  peek<T = unknown>(key: string): T | undefined {
    const mem = this.engine.memory
    if (mem === undefined) return undefined
    const slot = mem.peek(this.check(key))
    return slot < 0 ? undefined : (mem.valueAt(slot) as T)
  }

  /** The fresh value of `key` from L1, else L2; undefined on a miss. Never throws for L2 trouble. */
  get<T = unknown>(key: string, opts?: CallOptions): Promise<T | undefined> {
    return this.read<T>(key, opts, false)
  }

  /**
   * @internal `get` for a caller whose own `getSync(key)` has just missed (the response cache):
   * L2 only, and the L1 miss is counted once (regression: twice, as with the db layer's reads).
   */
  getAfterSyncMiss<T = unknown>(key: string, opts?: CallOptions): Promise<T | undefined> {
    return this.read<T>(key, opts, true)
  }

  private read<T>(
    key: string,
    opts: CallOptions | undefined,
    afterSyncMiss: boolean,
  ): Promise<T | undefined> {
    // tracing is checked where each path answers, so an untraced L1 hit is one check and no
    // extra call frame
    let full: string
    let policy: ResolvedPolicy
    try {
      full = this.checkShape(key)
      policy = this.policy(opts)
    } catch (err) {
      return this.rejected(tracingChannels.get, key, err)
    }
    const engine = this.engine
    const mem = engine.memory
    if (mem !== undefined && policy.schema === undefined && !afterSyncMiss) {
      const now = engine.now()
      const slot = mem.lookup(full, now)
      if (slot >= 0 && (mem.expiresAt[slot] as number) > now) {
        engine.l1Hit(full, slot)
        const value = mem.valueAt(slot) as T
        if (tracingChannels.get.hasSubscribers) return this.answered(tracingChannels.get, key, value)
        return Promise.resolve(value)
      }
    }
    if (!wellFormed(key)) return this.rejected(tracingChannels.get, key, invalidKey(key, this.maxKeyLength))
    if (tracingChannels.get.hasSubscribers) {
      const trace = this.trace(key)
      return tracingChannels.get.tracePromise(
        () => this.getSlow<T>(full, policy, trace, afterSyncMiss),
        trace,
      )
    }
    return this.getSlow<T>(full, policy, undefined, afterSyncMiss)
  }

  private trace(key: unknown): CacheOperationTrace {
    return {
      cache: this.engine.options.name,
      key: String(key),
      namespace: this.path.join('/'),
      answer: undefined,
    }
  }

  /** The trace of an operation L1 answered at once. */
  private answered<T>(channel: OperationChannel, key: string, value: T): Promise<T> {
    const trace = this.trace(key)
    trace.answer = 'l1'
    return channel.tracePromise(() => Promise.resolve(value), trace)
  }

  /** A rejection before any tier was asked (bad key or options), traced when subscribed. */
  private rejected(channel: OperationChannel, key: unknown, err: unknown): Promise<never> {
    if (!channel.hasSubscribers) return Promise.reject(err)
    return channel.tracePromise(() => Promise.reject(err), this.trace(key))
  }

  /** get past its L1 fast path; `counted`: the caller's getSync counted the L1 miss already. */
  private getSlow<T>(
    full: string,
    policy: ResolvedPolicy,
    trace: CacheOperationTrace | undefined,
    counted: boolean,
  ): Promise<T | undefined> {
    const engine = this.engine
    const mem = engine.memory
    if (mem !== undefined && policy.schema !== undefined)
      return this.getValidated<T>(full, policy, trace, counted)
    if (mem !== undefined) {
      engine.l1Miss(full, counted)
    }
    if (trace !== undefined) {
      return engine.readL2(full, policy).then((v) => {
        trace.answer = v === NOTHING ? 'miss' : 'l2'
        return orUndefined(v)
      }) as Promise<T | undefined>
    }
    return engine.readL2(full, policy).then(orUndefined) as Promise<T | undefined>
  }

  private async getValidated<T>(
    full: string,
    policy: ResolvedPolicy,
    trace: CacheOperationTrace | undefined,
    counted: boolean,
  ): Promise<T | undefined> {
    const engine = this.engine
    const hit = await this.validatedL1(full, policy)
    if (hit !== NOTHING) {
      if (trace !== undefined) trace.answer = 'l1'
      return hit as T
    }
    engine.l1Miss(full, counted)
    const v = await engine.readL2(full, policy)
    if (trace !== undefined) trace.answer = v === NOTHING ? 'miss' : 'l2'
    return v === NOTHING ? undefined : (v as T)
  }

  /** A fresh L1 value that passes the policy's schema (counted as a hit), or NOTHING; a failing value is dropped. */
  private async validatedL1(full: string, policy: ResolvedPolicy): Promise<unknown> {
    const engine = this.engine
    const mem = engine.memory
    const schema = policy.schema
    if (mem === undefined || schema === undefined) return NOTHING
    const now = engine.now()
    const slot = mem.lookup(full, now)
    if (slot < 0 || (mem.expiresAt[slot] as number) <= now) return NOTHING
    const v = await engine.validate(schema, mem.valueAt(slot))
    if (v === NOTHING) mem.delete(full)
    else engine.l1Hit(full, slot)
    return v
  }

  /**
   * The value of `key`: from L1, else L2, else by running `loader` once per key across concurrent
   * callers (and across instances with `lock`). Serves stale values within grace when the loader
   * fails or exceeds the soft timeout; rejects with E_LOADER / E_LOADER_TIMEOUT otherwise.
   * The result's type is the schema's output type when `schema` is given (the loader must return
   * it), else the loader's return type; `ctx.stale` is typed when the call names the type
   * (`getOrSet<User>(...)`).
   */
  getOrSet<T>(
    key: string,
    loader: Loader<NoInfer<T>>,
    opts: CallOptions & { readonly schema: StandardSchema<T> },
  ): Promise<T>
  getOrSet<T, Stale = T>(key: string, loader: Loader<T, Stale>, opts?: CallOptions): Promise<T>
  getOrSet<T>(key: string, loader: Loader<T>, opts?: CallOptions): Promise<T> {
    return this.lookupOrLoad(key, loader, opts, false, false)
  }

  /**
   * @internal `getOrSet` for a caller whose own `getSync(key)` has just missed (the db layer's
   * cached reads): L1 is not looked up a second time, and the miss is counted once (regression:
   * each such miss counted twice in `stats().l1.misses`, halving the reported hit ratio). With
   * `storeAfterAnswer` and no L2, a loaded value is stored in L1 after its caller is answered, in
   * the loop's check phase (deferred-store.ts): until then the caller's `getSync` misses, and its
   * call here joins the finished load.
   */
  getOrSetAfterSyncMiss<T>(
    key: string,
    loader: Loader<T>,
    opts?: CallOptions,
    storeAfterAnswer = false,
  ): Promise<T> {
    return this.lookupOrLoad(key, loader, opts, true, storeAfterAnswer)
  }

  private lookupOrLoad<T>(
    key: string,
    loader: Loader<T>,
    opts: CallOptions | undefined,
    afterSyncMiss: boolean,
    storeAfterAnswer: boolean,
  ): Promise<T> {
    let full: string
    let policy: ResolvedPolicy
    try {
      full = this.checkShape(key)
      policy = this.policy(opts)
      if (typeof loader !== 'function')
        throw new TypeError(`loader must be a function; received ${typeof loader}`)
    } catch (err) {
      return this.rejected(tracingChannels.getOrSet, key, err)
    }
    const engine = this.engine
    const mem = engine.memory
    if (mem !== undefined && policy.schema === undefined && !afterSyncMiss) {
      const now = engine.now()
      const slot = mem.lookup(full, now)
      if (slot >= 0) {
        const exp = mem.expiresAt[slot] as number
        if (exp > now) {
          const beta = policy.beta
          if (beta > 0) {
            // XFetch: refresh early with probability rising as expiry nears;
            // -ln(random) exceeds 20 with probability e^-20, so skip the draw when far from expiry
            const d = (mem.delta[slot] as number) * beta
            if (d > 0 && now + d * 20 >= exp && now - d * Math.log(Math.random()) >= exp) {
              engine.refreshEarly(full, key, loader, policy)
            }
          }
          engine.l1Hit(full, slot)
          const value = mem.valueAt(slot) as T
          if (tracingChannels.getOrSet.hasSubscribers)
            return this.answered(tracingChannels.getOrSet, key, value)
          return Promise.resolve(value)
        }
      }
    }
    return this.getOrSetMiss(full, key, loader, policy, opts?.signal, afterSyncMiss, storeAfterAnswer)
  }

  /** getOrSet past its L1 fast path; `counted`: the caller counted the L1 miss already. */
  private getOrSetMiss<T>(
    full: string,
    key: string,
    loader: Loader<T>,
    policy: ResolvedPolicy,
    signal: AbortSignal | undefined,
    counted: boolean,
    storeAfterAnswer: boolean,
  ): Promise<T> {
    if (!wellFormed(key)) {
      return this.rejected(tracingChannels.getOrSet, key, invalidKey(key, this.maxKeyLength))
    }
    if (tracingChannels.getOrSet.hasSubscribers) {
      const trace = this.trace(key)
      return tracingChannels.getOrSet.tracePromise(
        () => this.getOrSetSlow(full, key, loader, policy, signal, trace, counted, storeAfterAnswer),
        trace,
      )
    }
    // the common miss (no schema, no trace) goes straight to the loads, without an async step here
    if (policy.schema === undefined) {
      return this.engine.resolve(
        newLoad(full, key, loader, policy, signal, false, false, counted, storeAfterAnswer),
      )
    }
    return this.getOrSetSlow(full, key, loader, policy, signal, undefined, counted, storeAfterAnswer)
  }

  private async getOrSetSlow<T>(
    full: string,
    key: string,
    loader: Loader<T>,
    policy: ResolvedPolicy,
    signal: AbortSignal | undefined,
    trace: CacheOperationTrace | undefined,
    counted: boolean,
    storeAfterAnswer: boolean,
  ): Promise<T> {
    const hit = await this.validatedL1(full, policy)
    if (hit !== NOTHING) {
      if (trace !== undefined) trace.answer = 'l1'
      return hit as T
    }
    const load = newLoad(full, key, loader, policy, signal, false, false, counted, storeAfterAnswer)
    const value = await this.engine.resolve(load)
    if (trace !== undefined) trace.answer = load.answer
    return value
  }

  /** Stores `value` in every tier and drops other instances' L1 copies. `undefined` is rejected. */
  async set<T>(key: string, value: T, opts?: CallOptions): Promise<void> {
    const full = this.check(key)
    if (value === undefined)
      throw new TypeError(`value for "${key}" is undefined; use delete() to remove a key`)
    await this.engine.store(full, value, this.policy(opts), 0)
  }

  /** Values of many keys, in order (undefined for misses): L1 first, then one MGET for the rest. */
  async getMany<T = unknown>(keys: readonly string[], opts?: CallOptions): Promise<Array<T | undefined>> {
    if (!Array.isArray(keys)) throw new TypeError(`keys must be an array; received ${typeof keys}`)
    const fulls = keys.map((k) => this.check(k))
    const policy = this.policy(opts)
    const out = new Array<T | undefined>(keys.length).fill(undefined)
    const missing = await this.fromL1(fulls, policy, out)
    await this.fromL2(fulls, missing, policy, out)
    return out
  }

  private async fromL1<T>(
    fulls: string[],
    policy: ResolvedPolicy,
    out: Array<T | undefined>,
  ): Promise<number[]> {
    const engine = this.engine
    const mem = engine.memory
    const missing: number[] = []
    for (let i = 0; i < fulls.length; i++) {
      const full = fulls[i] as string
      if (mem !== undefined) {
        const now = engine.now()
        const slot = mem.lookup(full, now)
        if (slot >= 0 && (mem.expiresAt[slot] as number) > now) {
          let v = mem.valueAt(slot)
          if (policy.schema !== undefined) v = await engine.validate(policy.schema, v)
          if (v !== NOTHING) {
            engine.l1Hit(full, slot)
            out[i] = v as T
            continue
          }
        }
        engine.l1Miss(full)
      }
      missing.push(i)
    }
    return missing
  }

  private async fromL2<T>(
    fulls: string[],
    idx: number[],
    policy: ResolvedPolicy,
    out: Array<T | undefined>,
  ): Promise<number[]> {
    if (idx.length === 0) return idx
    const values = await this.engine.readManyL2(
      idx.map((i) => fulls[i] as string),
      policy,
    )
    const still: number[] = []
    for (let j = 0; j < idx.length; j++) {
      const i = idx[j] as number
      const v = values[j]
      if (v === NOTHING) still.push(i)
      else out[i] = v as T
    }
    return still
  }

  /**
   * Values of many keys, loading the missing ones with one call to `loader` (keys already being
   * loaded by another caller are joined, not loaded twice). Typed like `getOrSet`: by the schema
   * when one is given, else by the loader.
   */
  getOrSetMany<T>(
    keys: readonly string[],
    loader: BatchLoader<NoInfer<T>>,
    opts: CallOptions & { readonly schema: StandardSchema<T> },
  ): Promise<Array<T | undefined>>
  getOrSetMany<T>(
    keys: readonly string[],
    loader: BatchLoader<T>,
    opts?: CallOptions,
  ): Promise<Array<T | undefined>>
  async getOrSetMany<T>(
    keys: readonly string[],
    loader: BatchLoader<T>,
    opts?: CallOptions,
  ): Promise<Array<T | undefined>> {
    if (!Array.isArray(keys)) throw new TypeError(`keys must be an array; received ${typeof keys}`)
    if (typeof loader !== 'function')
      throw new TypeError(`loader must be a function; received ${typeof loader}`)
    const fulls = keys.map((k) => this.check(k))
    const policy = this.policy(opts)
    const out = new Array<T | undefined>(keys.length).fill(undefined)
    let missing = await this.fromL1(fulls, policy, out)
    missing = await this.fromL2(fulls, missing, policy, out)
    if (missing.length === 0) return out
    const loaded = await this.engine.loadMany(
      missing.map((i) => ({ full: fulls[i] as string, key: keys[i] as string })),
      loader,
      policy,
      opts?.signal,
    )
    for (let j = 0; j < missing.length; j++) out[missing[j] as number] = loaded[j]
    return out
  }

  /** Removes `key` from every tier and from other instances' L1. */
  async delete(key: string): Promise<void> {
    await this.deleteMany([key])
  }

  /** Removes several keys. */
  async deleteMany(keys: readonly string[]): Promise<void> {
    await this.engine.deleteKeys(keys.map((k) => this.check(k)))
  }

  private tagList(tags: string | readonly string[]): string[] {
    const list = typeof tags === 'string' ? [tags] : [...tags]
    if (list.length === 0 || list.some((t) => typeof t !== 'string' || t.length === 0 || !wellFormed(t))) {
      throw new TypeError(
        `tags must be a non-empty string or array of non-empty strings; received ${JSON.stringify(tags)}`,
      )
    }
    return list.map((t) => scoped(this.ns, t))
  }

  /** Deletes every entry carrying one of `tags`, in every tier and instance. */
  async deleteByTag(tags: string | readonly string[]): Promise<void> {
    await this.engine.deleteByTag(this.tagList(tags))
  }

  /**
   * Expires every entry carrying one of `tags` now, softly: the values stay available as stale
   * within their grace period (served if the loader fails or is slow).
   */
  async expireByTag(tags: string | readonly string[]): Promise<void> {
    await this.engine.expireByTag(this.tagList(tags))
  }

  /** Removes every entry of this namespace (the root cache: every entry under the prefix). */
  async clear(): Promise<void> {
    await this.engine.clear(this.ns)
  }

  /** A view whose keys and tags live under `name` (nestable); `clear()` on it clears only it. */
  namespace(name: string): Cache {
    if (typeof name !== 'string' || name.length === 0 || !wellFormed(name)) {
      throw new TypeError(`namespace name must be a non-empty string; received ${JSON.stringify(name)}`)
    }
    return new Cache(this.engine, this.ns + nsSegment(name), Object.freeze([...this.path, name]))
  }

  /**
   * Fills the cache ahead of traffic, from entries or from keys and a batch loader.
   * Returns how many entries were stored.
   */
  async warm<T>(source: readonly WarmEntry<T>[] | WarmFromLoader<T>): Promise<number> {
    if (Array.isArray(source)) {
      let n = 0
      for (const e of source as readonly WarmEntry<T>[]) {
        const opts: CallOptions = {}
        if (e.ttl !== undefined) opts.ttl = toMs(e.ttl, `warm entry "${e.key}" ttl`, MAX_TTL_MS)
        if (e.tags !== undefined) opts.tags = e.tags
        await this.set(e.key, e.value, opts)
        n++
      }
      return n
    }
    const s = source as WarmFromLoader<T>
    if (!Array.isArray(s.keys) || typeof s.loader !== 'function') {
      throw new TypeError('warm() takes an array of { key, value } or { keys, loader }')
    }
    const size = s.batchSize ?? 100
    if (!Number.isInteger(size) || size <= 0)
      throw new RangeError(`batchSize must be a positive integer; received ${size}`)
    let n = 0
    for (let i = 0; i < s.keys.length; i += size) {
      const part = s.keys.slice(i, i + size)
      const values = await this.getOrSetMany(part, s.loader, s.options)
      n += values.filter((v) => v !== undefined).length
    }
    return n
  }

  /** Subscribes to an event; returns a disposer. Costs nothing while nobody listens. */
  on<K extends keyof CacheEvents>(event: K, listener: (payload: CacheEvents[K]) => void): Disposer {
    const off = this.engine.events.on(event, listener)
    if (event === 'evict') this.engine.watchEvictions()
    return off
  }

  /** Counters per tier, loader and freshness figures. */
  stats(): CacheStats {
    return this.engine.stats()
  }

  /** Closes the cache (all namespaces): aborts running loaders, closes connections it opened. */
  close(): Promise<void> {
    return this.engine.close()
  }
}

function orUndefined(v: unknown): unknown {
  return v === NOTHING ? undefined : v
}

function invalidKey(key: unknown, max: number): InvalidKeyError {
  if (typeof key !== 'string')
    return new InvalidKeyError(`cache keys must be strings; received ${typeof key}`)
  if (key.length === 0) return new InvalidKeyError('cache keys must not be empty')
  if (!wellFormed(key)) {
    return new InvalidKeyError(
      `cache key ${JSON.stringify(key)} has a lone surrogate (not valid UTF-16 text); Redis could not keep it distinct`,
    )
  }
  return new InvalidKeyError(`cache key is ${key.length} characters long; the limit is maxKeyLength = ${max}`)
}

/** Creates a multi-tier cache. See CacheOptions for every setting. */
export function createCache(options: CacheOptions = {}): Cache {
  const resolved = resolveCacheOptions(options)
  const engine = new CacheEngine(resolved)
  const cache = new Cache(engine, '')
  engine.detachMonitor = resolved.monitor?.attach(cache)
  return cache
}
