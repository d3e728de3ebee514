/**
 * retry(): runs a call again on handled errors, with backoff and a retry budget so retries
 * cannot multiply load during an outage (at most `ratio` retries per call over a sliding window,
 * plus a small floor), honouring AbortSignal between and during attempts.
 */
import { Events } from '../events.js'
import { assertKnownKeys } from '../options.js'
import { type Clock, type Duration, systemClock, toMs } from '../time.js'
import type { MonitorLike } from '../types.js'
import { type Backoff, exponentialBackoff } from './backoff.js'
import { RetryBudgetError } from './errors.js'
import { type Handle, toPredicate } from './handle.js'
import { type Policy, type PolicyContext, rootContext, type Work } from './policy.js'
import { sleep } from './sleep.js'
import { type ExecuteTrace, traceExecute, tracingChannels } from './tracing.js'

/** Retry budget: retries allowed = ratio x calls in the window + minPerSecond x window seconds. */
export interface RetryBudgetOptions {
  /** Retries per call allowed over the window. @default 0.2 */
  ratio?: number
  /** Sliding window. @default '10s' */
  window?: Duration
  /** Retries per second always allowed, so low traffic can still retry. @default 1 */
  minPerSecond?: number
}

/** Options of `retry()`. */
export interface RetryOptions {
  /** Name for metrics and errors. @default 'retry' */
  name?: string
  /** Attempts in total, the first included. @default 3 */
  maxAttempts?: number
  /** Errors that are retried. @default every error */
  handle?: Handle
  /** Delay before each retry. @default exponentialBackoff() (100ms doubling, full jitter, 30s cap) */
  backoff?: Backoff
  /** Retry budget, or false for none. @default { ratio: 0.2, window: '10s', minPerSecond: 1 } */
  budget?: RetryBudgetOptions | false
  /** Clock for delays and the budget window. @default systemClock */
  clock?: Clock
  /** Monitor to report into. */
  monitor?: MonitorLike
}

/** Events of a retry policy. */
export interface RetryEvents {
  retry: { attempt: number; delay: number; error: unknown }
  giveUp: { attempts: number; error: unknown; reason: 'attempts' | 'unhandled' | 'budget' | 'aborted' }
  success: { attempts: number }
}

const BUCKETS = 10

const KNOWN = ['name', 'maxAttempts', 'handle', 'backoff', 'budget', 'clock', 'monitor'] as const

/** Sliding-window counters of calls and retries. */
class Budget {
  private readonly calls = new Float64Array(BUCKETS)
  private readonly retries = new Float64Array(BUCKETS)
  private bucket = 0
  private bucketStart = 0
  private readonly bucketMs: number
  constructor(
    private readonly ratio: number,
    private readonly windowMs: number,
    private readonly minPerSecond: number,
    private readonly clock: Clock,
  ) {
    this.bucketMs = windowMs / BUCKETS
    this.bucketStart = clock.now()
  }
  private roll(): void {
    const now = this.clock.now()
    let steps = Math.floor((now - this.bucketStart) / this.bucketMs)
    if (steps <= 0) return
    if (steps > BUCKETS) steps = BUCKETS
    for (let i = 0; i < steps; i++) {
      this.bucket = (this.bucket + 1) % BUCKETS
      this.calls[this.bucket] = 0
      this.retries[this.bucket] = 0
    }
    this.bucketStart = now - ((now - this.bucketStart) % this.bucketMs)
  }
  call(): void {
    this.roll()
    this.calls[this.bucket]!++
  }
  tryRetry(): boolean {
    const { calls, retries } = this.snapshot()
    if (retries + 1 > calls * this.ratio + (this.minPerSecond * this.windowMs) / 1000) return false
    this.retries[this.bucket]!++
    return true
  }
  snapshot(): { calls: number; retries: number } {
    this.roll()
    let calls = 0
    let retries = 0
    for (let i = 0; i < BUCKETS; i++) {
      calls += this.calls[i] as number
      retries += this.retries[i] as number
    }
    return { calls, retries }
  }
}

/** A retry policy. */
export class RetryPolicy implements Policy {
  readonly kind = 'retry'
  readonly name: string
  private readonly events = new Events<RetryEvents>()
  private readonly maxAttempts: number
  private readonly handles: (err: unknown) => boolean
  private readonly backoff: Backoff
  private readonly budget: Budget | undefined
  private readonly clock: Clock
  private counts = { calls: 0, retries: 0, successes: 0, failures: 0, budgetExhausted: 0 }

  constructor(options: RetryOptions = {}) {
    assertKnownKeys(options, KNOWN, 'retry options')
    this.name = options.name ?? 'retry'
    const max = options.maxAttempts ?? 3
    if (!Number.isInteger(max) || max < 1)
      throw new RangeError(`maxAttempts must be an integer >= 1; received ${max}`)
    this.maxAttempts = max
    this.handles = toPredicate(options.handle)
    this.backoff = options.backoff ?? exponentialBackoff()
    if (typeof this.backoff?.next !== 'function')
      throw new TypeError('backoff must have a next(attempt, previous) method')
    this.clock = options.clock ?? systemClock
    if (options.budget !== false) {
      const b = options.budget ?? {}
      assertKnownKeys(b, ['ratio', 'window', 'minPerSecond'], 'retry options.budget')
      const ratio = b.ratio ?? 0.2
      if (!(ratio >= 0)) throw new RangeError(`budget.ratio must be >= 0; received ${ratio}`)
      const minPerSecond = b.minPerSecond ?? 1
      if (!(minPerSecond >= 0))
        throw new RangeError(`budget.minPerSecond must be >= 0; received ${minPerSecond}`)
      const windowMs = toMs(b.window ?? '10s', 'budget.window')
      if (windowMs <= 0) throw new RangeError('budget.window must be greater than 0')
      this.budget = new Budget(ratio, windowMs, minPerSecond, this.clock)
    }
    options.monitor?.attach(this)
  }

  /** Runs `fn`, retrying handled errors. */
  execute<T>(fn: Work<T>, signal?: AbortSignal): Promise<T> {
    if (tracingChannels.execute.hasSubscribers) return traceExecute(this, (t) => this.run(fn, signal, t))
    return this.run(fn, signal, undefined)
  }

  private async run<T>(
    fn: Work<T>,
    signal: AbortSignal | undefined,
    trace: ExecuteTrace | undefined,
  ): Promise<T> {
    this.counts.calls++
    this.budget?.call()
    let previous = 0
    for (let attempt = 1; ; attempt++) {
      if (trace !== undefined) trace.attempts = attempt
      try {
        const value = await fn(attempt === 1 ? rootContext(signal) : rootContext(signal, attempt))
        this.counts.successes++
        if (this.events.has('success')) this.events.emit('success', { attempts: attempt })
        return value
      } catch (error) {
        const reason =
          signal?.aborted === true
            ? 'aborted'
            : !this.handles(error)
              ? 'unhandled'
              : attempt >= this.maxAttempts
                ? 'attempts'
                : this.budget !== undefined && !this.budget.tryRetry()
                  ? 'budget'
                  : undefined
        if (reason !== undefined) {
          this.counts.failures++
          if (this.events.has('giveUp')) this.events.emit('giveUp', { attempts: attempt, error, reason })
          if (reason === 'budget') {
            this.counts.budgetExhausted++
            throw new RetryBudgetError(this.name, error)
          }
          throw error
        }
        const delay = this.backoff.next(attempt, previous)
        previous = delay
        this.counts.retries++
        if (this.events.has('retry')) this.events.emit('retry', { attempt, delay, error })
        if (delay > 0) {
          try {
            await sleep(this.clock, delay, signal)
          } catch (aborted) {
            // an abort during the backoff is a give-up like one during an attempt
            this.counts.failures++
            if (this.events.has('giveUp'))
              this.events.emit('giveUp', { attempts: attempt, error, reason: 'aborted' })
            throw aborted
          }
        }
      }
    }
  }

  /** Subscribes to 'retry', 'giveUp' or 'success'. */
  on<K extends keyof RetryEvents>(event: K, listener: (payload: RetryEvents[K]) => void) {
    return this.events.on(event, listener)
  }

  /** Counters, and the budget window's calls and retries. */
  stats() {
    return { ...this.counts, budget: this.budget?.snapshot() }
  }
}

/** Creates a retry policy. */
export function retry(options: RetryOptions = {}): RetryPolicy {
  return new RetryPolicy(options)
}

export type { PolicyContext }
