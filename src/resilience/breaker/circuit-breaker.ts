/**
 * circuitBreaker(): stops calling a failing dependency. Closed: calls pass and outcomes are
 * counted by the strategy (consecutive, count window or time sampling). Open: calls fail fast
 * with E_CIRCUIT_OPEN until `halfOpenAfter`. Half-open: `halfOpenTrials` trial calls (one by
 * default) go through; everything else still fails fast; a trial success closes the circuit, a
 * failure opens it again (the next wait from the backoff, if one was given).
 *
 * With `shared`, instances of a service share the state through Redis: when one opens, all
 * open; one instance at a time runs the half-open trial; when it closes, all close.
 */
import { Events } from '../../events.js'
import { assertKnownKeys } from '../../options.js'
import { type Clock, type Duration, systemClock, toMs } from '../../time.js'
import type { MonitorLike } from '../../types.js'
import type { Backoff } from '../backoff.js'
import { CircuitOpenError } from '../errors.js'
import { type Handle, toPredicate } from '../handle.js'
import { type Policy, rootContext, type Work } from '../policy.js'
import { type ExecuteTrace, traceExecute, tracingChannels } from '../tracing.js'
import { SharedBreakerState, type SharedStateOptions } from './shared.js'
import { type BreakerStrategy, consecutive } from './strategies.js'

/** Circuit state. */
export type CircuitState = 'closed' | 'open' | 'half-open' | 'isolated'

/** A serializable snapshot of the state, for `initialState` after a restart. */
export interface CircuitSnapshot {
  state: 'closed' | 'open'
  /** Epoch ms until which the circuit stays open. */
  openUntil: number
  /** Opens in a row without a successful trial (drives the halfOpenAfter backoff). */
  reopens: number
}

/** Options of `circuitBreaker()`. */
export interface CircuitBreakerOptions {
  /** Name for metrics and errors. @default 'circuit' */
  name?: string
  /** When to open: consecutive(n), countWindow({...}) or sampling({...}). @default consecutive(5) */
  breaker?: () => BreakerStrategy
  /** Wait before a trial call: a duration or a backoff over successive re-opens. @default '10s' */
  halfOpenAfter?: Duration | Backoff
  /** Trial calls admitted at once in half-open. @default 1 */
  halfOpenTrials?: number
  /** Errors that count as failures (others pass through uncounted). @default every error */
  handle?: Handle
  /** State to start from (from `snapshot()`). */
  initialState?: CircuitSnapshot
  /** Share the state with other instances through Redis. */
  shared?: SharedStateOptions
  /** @default systemClock */
  clock?: Clock
  /** Monitor to report into. */
  monitor?: MonitorLike
}

/** Events of a circuit breaker. */
export interface CircuitBreakerEvents {
  stateChange: { from: CircuitState; to: CircuitState; source: 'local' | 'shared' }
  rejected: { state: CircuitState }
  failure: { error: unknown }
  success: Record<string, never>
}

const EMPTY = Object.freeze({}) as Record<string, never>

const KNOWN = [
  'name',
  'breaker',
  'halfOpenAfter',
  'halfOpenTrials',
  'handle',
  'initialState',
  'shared',
  'clock',
  'monitor',
] as const

/** A circuit breaker. */
export class CircuitBreaker implements Policy {
  readonly kind = 'circuit-breaker'
  readonly name: string
  private readonly events = new Events<CircuitBreakerEvents>()
  private readonly strategy: BreakerStrategy
  private readonly handles: (err: unknown) => boolean
  private readonly clock: Clock
  private readonly halfOpenMs: number | undefined
  private readonly halfOpenBackoff: Backoff | undefined
  private readonly trials: number
  private readonly shared: SharedBreakerState | undefined
  private readonly detachMonitor: (() => void) | undefined
  private _state: CircuitState = 'closed'
  private openUntil = 0
  private reopens = 0
  private lastWait = 0
  private trialsInFlight = 0
  private isolations = 0
  private counts = { calls: 0, successes: 0, failures: 0, rejections: 0, opens: 0 }

  constructor(options: CircuitBreakerOptions = {}) {
    assertKnownKeys(options, KNOWN, 'circuitBreaker options')
    this.name = options.name ?? 'circuit'
    this.clock = options.clock ?? systemClock
    const make = options.breaker ?? consecutive(5)
    if (typeof make !== 'function')
      throw new TypeError('breaker must be consecutive(), countWindow() or sampling()')
    this.strategy = make()
    this.handles = toPredicate(options.handle)
    const h = options.halfOpenAfter ?? '10s'
    if (typeof h === 'object' && h !== null && typeof (h as Backoff).next === 'function')
      this.halfOpenBackoff = h as Backoff
    else this.halfOpenMs = toMs(h, 'halfOpenAfter')
    this.trials = options.halfOpenTrials ?? 1
    if (!Number.isInteger(this.trials) || this.trials < 1) {
      throw new RangeError(`halfOpenTrials must be an integer >= 1; received ${this.trials}`)
    }
    const init = options.initialState
    if (init !== undefined) {
      if (init === null || typeof init !== 'object')
        throw new TypeError(`initialState must be a snapshot() object; received ${String(init)}`)
      assertKnownKeys(init, ['state', 'openUntil', 'reopens'], 'circuitBreaker options.initialState')
      if (init.state !== 'open' && init.state !== 'closed')
        throw new TypeError(`initialState.state must be 'open' or 'closed'; received ${String(init.state)}`)
      if (typeof init.openUntil !== 'number' || !Number.isFinite(init.openUntil))
        throw new TypeError(
          `initialState.openUntil must be a finite epoch in ms; received ${String(init.openUntil)}`,
        )
      if (init.reopens !== undefined && (!Number.isInteger(init.reopens) || init.reopens < 0))
        throw new RangeError(`initialState.reopens must be an integer >= 0; received ${String(init.reopens)}`)
      if (init.state === 'open' && init.openUntil > this.clock.now()) {
        this._state = 'open'
        this.openUntil = init.openUntil
      }
      this.reopens = init.reopens ?? 0
    }
    if (options.shared !== undefined) {
      this.shared = new SharedBreakerState(
        options.shared,
        {
          onOpen: (until) => this.adoptOpen(until),
          onClose: () => this.adoptClose(),
        },
        this.clock,
      )
    }
    this.detachMonitor = options.monitor?.attach(this)
  }

  /** The current state ('open' turns into 'half-open' lazily, when a call arrives after the wait). */
  get state(): CircuitState {
    if (this._state === 'open' && this.clock.now() >= this.openUntil) return 'half-open'
    return this._state
  }

  /** Runs `fn` if the circuit lets it through; otherwise rejects with E_CIRCUIT_OPEN. */
  execute<T>(fn: Work<T>, signal?: AbortSignal): Promise<T> {
    if (tracingChannels.execute.hasSubscribers) return traceExecute(this, (t) => this.traced(fn, signal, t))
    return this.run(fn, signal)
  }

  private traced<T>(fn: Work<T>, signal: AbortSignal | undefined, trace: ExecuteTrace): Promise<T> {
    trace.state = this.state
    trace.rejected = true
    return this.run((ctx) => {
      trace.rejected = false
      return fn(ctx)
    }, signal)
  }

  private run<T>(fn: Work<T>, signal: AbortSignal | undefined): Promise<T> {
    this.counts.calls++
    if (this._state === 'closed') {
      let r: T | Promise<T>
      try {
        r = fn(rootContext(signal))
      } catch (err) {
        this.onClosedFailure(err)
        return Promise.reject(err)
      }
      if (r instanceof Promise) return r.then(this.closedOk, this.closedFail) as Promise<T>
      this.onSuccess()
      return Promise.resolve(r)
    }
    return this.executeNotClosed(fn, signal)
  }

  private readonly closedOk = (v: unknown): unknown => {
    this.onSuccess()
    return v
  }

  private readonly closedFail = (err: unknown): never => {
    this.onClosedFailure(err)
    throw err
  }

  private onSuccess(): void {
    this.counts.successes++
    this.strategy.success(this.clock.now())
    if (this.events.has('success')) this.events.emit('success', EMPTY)
  }

  private onClosedFailure(err: unknown): void {
    if (!this.handles(err)) return
    this.counts.failures++
    if (this.events.has('failure')) this.events.emit('failure', { error: err })
    if (this.strategy.failure(this.clock.now()) && this._state === 'closed') this.open('local')
  }

  private async executeNotClosed<T>(fn: Work<T>, signal?: AbortSignal): Promise<T> {
    const now = this.clock.now()
    if (this._state === 'isolated') return this.reject(Number.POSITIVE_INFINITY)
    if (this._state === 'open') {
      if (now < this.openUntil) return this.reject(this.openUntil - now)
      this.transition('half-open', 'local')
    }
    if (this.trialsInFlight >= this.trials) return this.reject(this.halfOpenWait())
    this.trialsInFlight++
    let claimed = false
    try {
      if (this.shared !== undefined) {
        if (!(await this.shared.claimTrial(this.halfOpenWait()))) return this.reject(this.halfOpenWait())
        claimed = true
      }
      const value = await fn(rootContext(signal))
      this.counts.successes++
      if (this._state === 'half-open') this.close('local')
      return value
    } catch (err) {
      if (this.handles(err)) {
        this.counts.failures++
        if (this.events.has('failure')) this.events.emit('failure', { error: err })
        if (this._state === 'half-open') this.open('local')
      } else if (claimed && this._state === 'half-open') {
        // no verdict: the lock goes back, so another instance need not wait out its TTL
        // (regression: it stayed until then, and every other instance refused its calls)
        this.shared?.releaseTrial()
      }
      throw err
    } finally {
      this.trialsInFlight--
    }
  }

  private reject(retryAfter: number): Promise<never> {
    this.counts.rejections++
    if (this.events.has('rejected')) this.events.emit('rejected', { state: this._state })
    return Promise.reject(new CircuitOpenError(this.name, retryAfter))
  }

  /** The wait of a new open: the backoff's next step (it steps once per open, not per call). */
  private nextWait(): number {
    if (this.halfOpenBackoff !== undefined) {
      this.lastWait = this.halfOpenBackoff.next(this.reopens + 1, this.lastWait)
      return this.lastWait
    }
    return this.halfOpenMs as number
  }

  /**
   * The current wait, for a refusal's retryAfter and the trial claim's TTL in half-open; it does
   * not step the backoff (an open adopted from Redis or a snapshot has no wait yet: a peek).
   */
  private halfOpenWait(): number {
    if (this.halfOpenBackoff === undefined) return this.halfOpenMs as number
    return this.lastWait > 0 ? this.lastWait : this.halfOpenBackoff.next(this.reopens + 1, 0)
  }

  private transition(to: CircuitState, source: 'local' | 'shared'): void {
    const from = this._state
    if (from === to) return
    this._state = to
    if (this.events.has('stateChange')) this.events.emit('stateChange', { from, to, source })
  }

  private open(source: 'local' | 'shared', until?: number): void {
    this.counts.opens++
    this.openUntil = until ?? this.clock.now() + this.nextWait()
    this.reopens++
    this.transition('open', source)
    if (source === 'local') this.shared?.publishOpen(this.openUntil, this.clock.now())
  }

  private close(source: 'local' | 'shared'): void {
    this.reopens = 0
    this.lastWait = 0
    this.strategy.reset(this.clock.now())
    this.transition('closed', source)
    if (source === 'local') this.shared?.publishClose()
  }

  private adoptOpen(until: number): void {
    if (this._state === 'isolated') return
    if (until > this.clock.now()) this.open('shared', until)
  }

  private adoptClose(): void {
    if (this._state === 'open' || this._state === 'half-open') this.close('shared')
  }

  /** Holds the circuit open (manual override) until the returned disposer is called. */
  isolate(): () => void {
    this.isolations++
    this.transition('isolated', 'local')
    let done = false
    return () => {
      if (done) return
      done = true
      if (--this.isolations === 0) this.close('local')
    }
  }

  /** A serializable snapshot, for `initialState` after a restart. */
  snapshot(): CircuitSnapshot {
    const open = this._state === 'open' || this._state === 'isolated'
    return { state: open ? 'open' : 'closed', openUntil: open ? this.openUntil : 0, reopens: this.reopens }
  }

  /** Subscribes to 'stateChange', 'rejected', 'failure' or 'success'. */
  on<K extends keyof CircuitBreakerEvents>(event: K, listener: (payload: CircuitBreakerEvents[K]) => void) {
    return this.events.on(event, listener)
  }

  /** Counters, the state and the strategy's window. */
  stats() {
    return { ...this.counts, state: this.state, ...this.strategy.snapshot() }
  }

  /** Releases the shared-state connection (if any). */
  dispose(): void {
    this.detachMonitor?.()
    this.shared?.close()
  }
}

/** Creates a circuit breaker. */
export function circuitBreaker(options: CircuitBreakerOptions = {}): CircuitBreaker {
  return new CircuitBreaker(options)
}
