/**
 * Loader runs: per-process single-flight (one run per key across concurrent callers, batches
 * included), the hard and soft timeouts, stale serving (grace, stale-while-revalidate) and XFetch
 * early refreshes. Every run, single or batched, goes through `run()`, so all of them get the
 * same events, counters, timeouts and abort on close (regression: getOrSetMany had its own copy
 * that had drifted).
 */
import { performance } from 'node:perf_hooks'
import { AbortedError, ClosedError, isHotpathError, LoaderError, LoaderTimeoutError } from '../errors.js'
import type { CacheEngine } from './engine.js'
import { NOTHING, type Nothing, type StaleBox } from './l2-tier.js'
import { LazyAbort, LoadContext } from './load-context.js'
import { runLocked } from './lock.js'
import type { ResolvedPolicy } from './option-types.js'
import { type CacheAnswer, type CacheLoadTrace, tracingChannels } from './tracing.js'
import type { BatchLoader, Loader } from './types.js'

/** One load of one key: everything the miss path needs, passed as one object. */
export interface Load<T> {
  /** The encoded key (namespace included). */
  readonly full: string
  /** The key as the caller gave it (what the loader sees). */
  readonly key: string
  readonly loader: Loader<T>
  readonly policy: ResolvedPolicy
  readonly signal: AbortSignal | undefined
  /** The stale value this load knows of; callers joining the flight see it too. */
  readonly box: StaleBox
  /** An XFetch / background refresh. */
  readonly early: boolean
  /** Part of a batch (counted once for the batch). */
  readonly batched: boolean
  /** The caller counted the L1 miss already (its own getSync missed). */
  readonly missCounted: boolean
  /**
   * The L1 store may follow the caller's answer (deferred-store.ts): the caller's repeat reads
   * find the value through the flight, which lands only after the store.
   */
  readonly storeAfterAnswer: boolean
  /** L2 was read already for this load. */
  l2Read: boolean
  /** Its flight, once start() registered it (the store after the answer holds it). */
  flight: Flight | undefined
  /** Which tier answered this load's caller (for traces). */
  answer: CacheAnswer
}

/** Creates a load. */
export function newLoad<T>(
  full: string,
  key: string,
  loader: Loader<T>,
  policy: ResolvedPolicy,
  signal: AbortSignal | undefined,
  early = false,
  batched = false,
  missCounted = false,
  storeAfterAnswer = false,
): Load<T> {
  return {
    full,
    key,
    loader,
    policy,
    signal,
    box: { s: undefined },
    early,
    batched,
    missCounted,
    storeAfterAnswer,
    l2Read: false,
    flight: undefined,
    answer: 'loader',
  }
}

interface Flight {
  readonly full: string
  /** Its value's L1 store follows the answer: the flight lands after the store, not before. */
  held: boolean
  /** The run's promise; undefined while its loader's synchronous part runs (see start()). */
  p: Promise<unknown> | undefined
  readonly box: StaleBox
  /** Callers that joined while `p` was still undefined (a loader asking for its own key). */
  early: Array<(p: Promise<unknown>) => void> | undefined
}

/** The loader runs of one engine. */
export class Loads {
  private readonly flights = new Map<string, Flight>()
  /** The abort handles of running loaders (close aborts them). */
  private readonly controllers = new Set<LazyAbort>()
  private readonly runBound = (load: Load<unknown>) => this.run(load)
  private readonly flyBound = (load: Load<unknown>) => this.fly(load)

  constructor(private readonly engine: CacheEngine) {}

  /** True while a load of `full` runs. */
  has(full: string): boolean {
    return this.flights.has(full)
  }

  /**
   * The miss path of getOrSet: L1 stale, L2, single-flight, loader with grace and timeouts.
   */
  resolve<T>(load: Load<T>): Promise<T> {
    try {
      return this.resolveNow(load)
    } catch (err) {
      return Promise.reject(err)
    }
  }

  private resolveNow<T>(load: Load<T>): Promise<T> {
    const engine = this.engine
    const { full, policy, signal, box } = load
    if (engine.isClosed) return Promise.reject(new ClosedError(`cache "${engine.options.name}"`))
    if (signal?.aborted) return Promise.reject(new AbortedError(signal.reason))
    const now = engine.options.clock.now()
    engine.staleFromL1(full, policy, now, box, load.missCounted)
    const flight = this.flights.get(full)
    if (
      flight === undefined &&
      box.s === undefined &&
      (policy.swr > 0 || policy.softTimeout > 0) &&
      engine.l2 !== undefined &&
      !policy.skipL2
    ) {
      return this.l2First(load)
    }
    // the common miss (no stale value to weigh) adds no async step of its own
    return this.follow(load, flight, now, false)
  }

  /**
   * Stale-while-revalidate and the soft timeout need to know about a stale L2 copy before the
   * loader starts, so L2 is read first (the flight then skips its own read).
   */
  private async l2First<T>(load: Load<T>): Promise<T> {
    const engine = this.engine
    const fromL2 = await (engine.l2 as NonNullable<CacheEngine['l2']>).read(load.full, load.policy, load.box)
    if (fromL2 !== NOTHING) {
      load.answer = 'l2'
      return fromL2 as T
    }
    return this.follow(load, this.flights.get(load.full), engine.options.clock.now(), true)
  }

  /** Starts or joins the flight of `load`, then waits for it (or serves a stale value). */
  private follow<T>(load: Load<T>, flight: Flight | undefined, now: number, readDone: boolean): Promise<T> {
    const box = load.box
    let p: Promise<T | Nothing>
    if (flight === undefined) {
      load.l2Read = readDone
      p = this.start(load, this.flyBound as (l: Load<T>) => Promise<T>)
    } else {
      p = joined(flight) as Promise<T>
      load.answer = 'joined'
      if (box.s === undefined) box.s = flight.box.s
    }
    const stale = box.s
    if (stale === undefined) return this.race(p, 0, load.signal) as Promise<T>
    return this.withStale(load, p, stale, now)
  }

  private async withStale<T>(
    load: Load<T>,
    p: Promise<T | Nothing>,
    stale: NonNullable<StaleBox['s']>,
    now: number,
  ): Promise<T> {
    const { full, policy, signal } = load
    const engine = this.engine
    if (policy.swr > 0 && now < stale.expiresAt + policy.swr && now < stale.staleUntil) {
      p.catch(() => {})
      engine.serveStale(full, 'swr')
      load.answer = 'stale'
      return stale.value as T
    }
    let result: T | Nothing
    if (policy.softTimeout > 0 && now < stale.staleUntil) {
      result = await this.race(p, policy.softTimeout, signal)
      // the stale value is checked against the clock when it is served, not when it was found
      // (regression: a caller joining a long load was served a value 700 ms past ttl + grace)
      if (result === NOTHING && engine.options.clock.now() < stale.staleUntil) {
        p.catch(() => {})
        engine.serveStale(full, 'soft-timeout')
        load.answer = 'stale'
        return stale.value as T
      }
      if (result === NOTHING) result = await this.race(p, 0, signal)
    } else {
      result = await this.race(p, 0, signal)
    }
    return result as T
  }

  /**
   * Registers the flight of `load`, then starts it with `run`: the loader is called at once,
   * with its flight already in place (a loader asking for its own key joins it), and no
   * microtask spent waiting for the registration before the loader starts.
   */
  private start<T>(load: Load<T>, run: (load: Load<T>) => Promise<T>): Promise<T> {
    const flight: Flight = { full: load.full, held: false, p: undefined, box: load.box, early: undefined }
    this.flights.set(flight.full, flight)
    load.flight = flight
    // every run is an async function's promise: it never throws here
    const p = run(load)
    flight.p = p
    if (flight.early !== undefined) for (const join of flight.early) join(p)
    flight.early = undefined
    p.then(
      () => this.land(flight),
      () => this.land(flight),
    )
    return p
  }

  /** A flight ended: later callers start a new one (a held flight lands when its store is done). */
  private land(flight: Flight): void {
    if (!flight.held && this.flights.get(flight.full) === flight) this.flights.delete(flight.full)
  }

  /** Waits for `p`, or NOTHING after `ms` (0: no limit); rejects when `signal` aborts. */
  private race<T>(p: Promise<T>, ms: number, signal: AbortSignal | undefined): Promise<T | Nothing> {
    if (ms === 0 && signal === undefined) return p
    return new Promise<T | Nothing>((resolve, reject) => {
      const clock = this.engine.options.clock
      const timer = ms > 0 ? clock.setTimeout(() => resolve(NOTHING), ms) : undefined
      const onAbort = () => reject(new AbortedError(signal?.reason))
      signal?.addEventListener('abort', onAbort, { once: true })
      const done = () => {
        if (timer !== undefined) clock.clearTimeout(timer)
        signal?.removeEventListener('abort', onAbort)
      }
      p.then(
        (v) => {
          done()
          resolve(v)
        },
        (e: unknown) => {
          done()
          reject(e)
        },
      )
    })
  }

  /** One flight: L2, then (under the lock if configured) the loader. */
  private fly<T>(load: Load<T>): Promise<T> {
    const l2 = this.engine.l2
    // without L2 (or with it read already) no extra async step before the loader
    if (!load.l2Read && l2 !== undefined) return this.flyAfterL2(load)
    return this.runMaybeLocked(load)
  }

  private async flyAfterL2<T>(load: Load<T>): Promise<T> {
    const fromL2 = await (this.engine.l2 as NonNullable<CacheEngine['l2']>).read(
      load.full,
      load.policy,
      load.box,
    )
    if (fromL2 !== NOTHING) {
      load.answer = 'l2'
      return fromL2 as T
    }
    return this.runMaybeLocked(load)
  }

  private runMaybeLocked<T>(load: Load<T>): Promise<T> {
    const l2 = this.engine.l2
    const lock = this.engine.options.lock
    if (lock !== undefined && l2 !== undefined && !load.policy.skipL2) {
      return runLocked(this.engine, l2, lock, load, this.runBound as (l: Load<T>) => Promise<T>)
    }
    return this.run(load)
  }

  /** Runs the loader with the hard timeout, stores the result, serves stale on failure. */
  private run<T>(load: Load<T>): Promise<T> {
    const channel = tracingChannels.load
    if (!channel.hasSubscribers) return this.runLoader(load, undefined)
    const trace: CacheLoadTrace = {
      cache: this.engine.options.name,
      key: load.key,
      early: load.early,
      batched: load.batched,
      servedStale: undefined,
    }
    return channel.tracePromise(() => this.runLoader(load, trace), trace)
  }

  private async runLoader<T>(load: Load<T>, trace: CacheLoadTrace | undefined): Promise<T> {
    const engine = this.engine
    const { full, key, policy } = load
    const stale = load.box.s
    const ac = new LoadContext<T>(key, stale?.value as T | undefined)
    this.controllers.add(ac)
    const clock = engine.options.clock
    if (!load.batched) engine.count('loads')
    const t0 = performance.now()
    let timer: unknown
    try {
      let value: T
      if (policy.hardTimeout > 0) {
        value = await Promise.race([
          Promise.resolve().then(() => load.loader(ac)),
          new Promise<never>((_, reject) => {
            timer = clock.setTimeout(() => {
              const err = new LoaderTimeoutError(key, policy.hardTimeout)
              ac.abort(err)
              reject(err)
            }, policy.hardTimeout)
          }),
        ])
      } else {
        // called at once: start() registered the flight first; awaiting the loader's promise
        // directly saves the two extra jobs of adopting it from a then() callback
        value = await load.loader(ac)
      }
      const durationMs = performance.now() - t0
      engine.loaded(full, durationMs, true, load.early)
      // the caller is answered now; the L2 write and its invalidation follow in order in the
      // background (regression: a miss paid the read timeout and then the write timeout)
      if (value !== undefined && !engine.isClosed) {
        const flight = load.storeAfterAnswer && engine.canStoreAfterAnswer ? load.flight : undefined
        if (flight !== undefined) {
          flight.held = true
          engine.putAfterAnswer(full, value, policy, durationMs, () => {
            flight.held = false
            this.land(flight)
          })
        } else engine.putInBackground(full, value, policy, durationMs)
      }
      return value
    } catch (err) {
      const timedOut = isHotpathError(err, 'E_LOADER_TIMEOUT')
      // a batch's failure is counted once, by loadMany, like its call
      if (!load.batched) engine.count(timedOut ? 'loadTimeouts' : 'loadErrors')
      engine.loaded(full, performance.now() - t0, false, load.early)
      if (isHotpathError(err, 'E_SERIALIZE')) throw err
      if (stale !== undefined && stale.staleUntil > clock.now()) {
        engine.serveStale(full, timedOut ? 'hard-timeout' : 'loader-error')
        load.answer = 'stale'
        if (trace !== undefined) trace.servedStale = err
        return stale.value as T
      }
      if (timedOut || isHotpathError(err, 'E_CLOSED')) throw err
      throw new LoaderError(key, err)
    } finally {
      if (timer !== undefined) clock.clearTimeout(timer)
      this.controllers.delete(ac)
    }
  }

  /** Starts a background refresh unless one runs already (XFetch). */
  refreshEarly<T>(full: string, key: string, loader: Loader<T>, policy: ResolvedPolicy): void {
    if (this.flights.has(full) || this.engine.isClosed) return
    this.engine.count('early')
    const load = newLoad(full, key, loader, policy, undefined, true)
    this.start(load, this.runBound as (l: Load<T>) => Promise<T>)
  }

  /**
   * Loads `misses` (distinct keys, none in flight) with one call to `batch`: each key gets its
   * own flight through `run()`, fed from the one batch call. Returns the keys' flights in order.
   */
  loadMany<T>(
    misses: ReadonlyArray<{ full: string; key: string }>,
    batch: BatchLoader<T>,
    policy: ResolvedPolicy,
    signal: AbortSignal | undefined,
  ): Array<Promise<T | undefined>> {
    const engine = this.engine
    const ac = new LazyAbort()
    this.controllers.add(ac)
    const onAbort = () => ac.abort(signal?.reason)
    signal?.addEventListener('abort', onAbort, { once: true })
    const clock = engine.options.clock
    // the batch call's outcome is counted once, not once per key (regression: one failed call of
    // three keys counted 3 loader errors against 1 loader call)
    let timedOut = false
    const timer =
      policy.hardTimeout > 0
        ? clock.setTimeout(() => {
            timedOut = true
            engine.count('loadTimeouts')
            ac.abort(new LoaderTimeoutError('batch', policy.hardTimeout))
          }, policy.hardTimeout)
        : undefined
    engine.count('loads')
    const keys = misses.map((m) => m.key)
    const result = Promise.resolve().then(() => batch(keys, ac))
    const done = () => {
      if (timer !== undefined) clock.clearTimeout(timer)
      signal?.removeEventListener('abort', onAbort)
      this.controllers.delete(ac)
    }
    result.then(done, () => {
      done()
      if (!timedOut) engine.count('loadErrors')
    })
    return misses.map((m, j) => {
      const loader: Loader<T | undefined> = () => result.then((r) => pick(r, j, m.key) as T | undefined)
      const load = newLoad(m.full, m.key, loader, policy, signal, false, true)
      const p = this.start(load, this.runBound as (l: Load<T | undefined>) => Promise<T | undefined>)
      p.catch(() => {})
      return p
    })
  }

  /** getOrSetMany's misses: joins running loads, loads the rest with one batch call. */
  async joinOrLoadMany<T>(
    misses: ReadonlyArray<{ full: string; key: string }>,
    batch: BatchLoader<T>,
    policy: ResolvedPolicy,
    signal: AbortSignal | undefined,
  ): Promise<Array<T | undefined>> {
    const waits: Array<Promise<unknown>> = new Array(misses.length)
    const toLoad: Array<{ full: string; key: string }> = []
    const at: number[] = []
    const first = new Map<string, number>()
    for (let i = 0; i < misses.length; i++) {
      const m = misses[i] as { full: string; key: string }
      const running = this.flight(m.full)
      if (running !== undefined) waits[i] = running
      else if (!first.has(m.full)) {
        first.set(m.full, i)
        at.push(i)
        toLoad.push(m)
      }
    }
    if (toLoad.length > 0) {
      const flights = this.loadMany(toLoad, batch, policy, signal)
      for (let j = 0; j < at.length; j++) waits[at[j] as number] = flights[j] as Promise<unknown>
    }
    for (let i = 0; i < misses.length; i++) {
      // a key repeated in the same call waits for its first occurrence
      if (waits[i] === undefined) {
        waits[i] = waits[first.get((misses[i] as { full: string }).full) as number] as Promise<unknown>
      }
    }
    const settled = await Promise.allSettled(waits)
    const out: Array<T | undefined> = []
    for (const s of settled) {
      if (s.status === 'rejected') throw s.reason
      out.push(s.value as T | undefined)
    }
    return out
  }

  /** The running flight of `full`, if any (getOrSetMany joins it). */
  flight(full: string): Promise<unknown> | undefined {
    const f = this.flights.get(full)
    return f === undefined ? undefined : joined(f)
  }

  /** Aborts every running loader (close). */
  abortAll(reason: unknown): void {
    for (const ac of this.controllers) ac.abort(reason)
  }
}

/** The promise of a flight; one that resolves with it while its loader is still being called. */
function joined(flight: Flight): Promise<unknown> {
  if (flight.p !== undefined) return flight.p
  return new Promise((resolve) => {
    flight.early ??= []
    flight.early.push(resolve)
  })
}

function pick(result: unknown, index: number, key: string): unknown {
  if (Array.isArray(result)) return result[index]
  if (result instanceof Map) return result.get(key)
  if (result !== null && typeof result === 'object') return (result as Record<string, unknown>)[key]
  return undefined
}
