/**
 * adaptiveLimit(): a concurrency limit that moves with measured latency, as Netflix's
 * concurrency-limits does. When latency rises above its no-load level, queues are forming
 * somewhere downstream, so the limit shrinks; when latency holds, it grows. Calls beyond the
 * limit are refused at once with E_LIMIT_EXCEEDED (backpressure instead of queueing).
 *
 * Algorithms: 'vegas' (TCP Vegas: estimated queue = limit x (1 - rttNoLoad / rtt), grow while it
 * is below alpha, shrink above beta) and 'gradient2' (limit x clamp(tolerance x longRtt /
 * shortRtt, 0.5, 1) + sqrt(limit), smoothed; longRtt is an exponential average).
 *
 * Priorities: each class gets a guaranteed share of the limit ({ live: 0.9, batch: 0.1 }). A
 * call is admitted while the total is under the limit, and a class under its share is always
 * admitted, so batch work can use idle capacity but never keeps live traffic out of its 90%.
 */
import { performance } from 'node:perf_hooks'
import { Events } from '../events.js'
import { assertKnownKeys, assertSignal, received } from '../options.js'
import type { Clock } from '../time.js'
import type { MonitorLike } from '../types.js'
import { LimitExceededError } from './errors.js'
import { type PolicyContext, rootContext } from './policy.js'

/** Samples per window of the no-load RTT minimum (vegas). */
const WINDOW = 1000

const KNOWN = [
  'algorithm',
  'initialLimit',
  'minLimit',
  'maxLimit',
  'smoothing',
  'tolerance',
  'vegas',
  'priorities',
  'name',
  'clock',
  'monitor',
] as const

/** Options of `adaptiveLimit()`. */
export interface AdaptiveLimitOptions {
  /** @default 'vegas' (it held latency closest to no-load in bench/README.md's overload run) */
  algorithm?: 'vegas' | 'gradient2'
  /** Starting limit. @default 20 */
  initialLimit?: number
  /** @default 1 */
  minLimit?: number
  /** @default 1000 */
  maxLimit?: number
  /** Weight of a new limit against the old one. @default 0.2 */
  smoothing?: number
  /** gradient2: how much latency above the long-term average is tolerated. @default 1.5 */
  tolerance?: number
  /**
   * vegas: the estimated queue is kept between alpha x log10(limit) and beta x log10(limit)
   * (log10 floored at 1). Lower values trade a little throughput headroom for lower latency.
   * @default { alpha: 3, beta: 6 }
   */
  vegas?: { alpha?: number; beta?: number }
  /** Priority classes and their guaranteed shares (summing to at most 1). @default { default: 1 } */
  priorities?: Record<string, number>
  /** @default 'adaptive-limit' */
  name?: string
  /** Clock for measuring call latency (tests pass a FakeClock). @default performance.now() */
  clock?: Clock
  monitor?: MonitorLike
}

/** Per-call options of `execute()`. */
export interface AdaptiveLimitCallOptions {
  /** The priority class (one of `priorities`). @default the first class */
  priority?: string
  /** Passed to `fn` as `ctx.signal`. */
  signal?: AbortSignal
}

const CALL_KNOWN = ['priority', 'signal'] as const

/** Refuses bad per-call options before a slot is taken (they would pass silently otherwise). */
function checkCallOptions(options: unknown): void {
  if (options === null || typeof options !== 'object')
    throw new TypeError(`adaptiveLimit execute options must be an object; received ${received(options)}`)
  // per call: the full check (and its key list) only when a key is not one of the two
  for (const k in options) {
    if (k !== 'priority' && k !== 'signal') {
      assertKnownKeys(options, CALL_KNOWN, 'adaptiveLimit execute options')
      break
    }
  }
  const { priority, signal } = options as AdaptiveLimitCallOptions
  if (priority !== undefined && typeof priority !== 'string')
    throw new TypeError(`priority must be a string; received ${received(priority)}`)
  assertSignal(signal, 'signal')
}

/** Events of an adaptive limit. */
export interface AdaptiveLimitEvents {
  limit: { from: number; to: number }
  rejected: { priority: string; limit: number; inflight: number }
}

/** A slot taken with `acquire()`. */
export interface AdaptiveLimitToken {
  readonly priority: string
  readonly start: number
  readonly inflight: number
  released: boolean
}

/** An adaptive concurrency limiter. */
export class AdaptiveLimit {
  readonly kind = 'adaptive-limit'
  readonly name: string
  private readonly events = new Events<AdaptiveLimitEvents>()
  private readonly vegas: boolean
  private readonly min: number
  private readonly max: number
  private readonly smoothing: number
  private readonly tolerance: number
  private readonly alpha: number
  private readonly beta: number
  private readonly shares: Map<string, number>
  private readonly inflightBy = new Map<string, number>()
  private readonly defaultPriority: string
  private _limit: number
  private inflight = 0
  private rttNoLoad = 0
  private minCur = Number.POSITIVE_INFINITY
  private minPrev = Number.POSITIVE_INFINITY
  private longRtt = 0
  private samples = 0
  private avgRtt = 0
  private counts = { calls: 0, rejected: 0, drops: 0 }
  private readonly now: () => number

  constructor(options: AdaptiveLimitOptions = {}) {
    assertKnownKeys(options, KNOWN, 'adaptiveLimit options')
    assertKnownKeys(options.vegas, ['alpha', 'beta'], 'adaptiveLimit options.vegas')
    this.now = options.clock === undefined ? () => performance.now() : () => (options.clock as Clock).now()
    const algorithm = options.algorithm ?? 'vegas'
    if (algorithm !== 'vegas' && algorithm !== 'gradient2') {
      throw new TypeError(`algorithm must be 'vegas' or 'gradient2'; received ${String(algorithm)}`)
    }
    this.vegas = algorithm === 'vegas'
    this.min = options.minLimit ?? 1
    this.max = options.maxLimit ?? 1000
    const initial = options.initialLimit ?? 20
    for (const [k, v] of [
      ['minLimit', this.min],
      ['maxLimit', this.max],
      ['initialLimit', initial],
    ] as const) {
      if (!Number.isFinite(v) || v < 1) throw new RangeError(`${k} must be a number >= 1; received ${v}`)
    }
    if (this.min > this.max || initial < this.min || initial > this.max) {
      throw new RangeError(
        `need minLimit <= initialLimit <= maxLimit; received ${this.min}, ${initial}, ${this.max}`,
      )
    }
    this._limit = initial
    this.smoothing = options.smoothing ?? 0.2
    if (!(this.smoothing > 0 && this.smoothing <= 1))
      throw new RangeError(`smoothing must be in (0, 1]; received ${this.smoothing}`)
    this.tolerance = options.tolerance ?? 1.5
    if (!(this.tolerance >= 1)) throw new RangeError(`tolerance must be >= 1; received ${this.tolerance}`)
    this.alpha = options.vegas?.alpha ?? 3
    this.beta = options.vegas?.beta ?? 6
    if (!(this.alpha > 0 && this.beta > this.alpha)) {
      throw new RangeError(`vegas needs 0 < alpha < beta; received alpha ${this.alpha}, beta ${this.beta}`)
    }
    const priorities = options.priorities ?? { default: 1 }
    const entries = Object.entries(priorities)
    if (entries.length === 0) throw new TypeError('priorities must name at least one class')
    let sum = 0
    for (const [k, share] of entries) {
      if (!(share > 0 && share <= 1))
        throw new RangeError(`priorities.${k} must be a share in (0, 1]; received ${share}`)
      sum += share
    }
    if (sum > 1 + 1e-9) throw new RangeError(`priority shares must sum to at most 1; they sum to ${sum}`)
    this.shares = new Map(entries)
    this.defaultPriority = (entries[0] as [string, number])[0]
    for (const k of this.shares.keys()) this.inflightBy.set(k, 0)
    this.name = options.name ?? 'adaptive-limit'
    options.monitor?.attach(this)
  }

  /** The current limit (rounded down when admitting). */
  get limit(): number {
    return this._limit
  }

  /** Calls in flight. */
  get inFlight(): number {
    return this.inflight
  }

  /** Runs `fn` if admitted for `priority`; otherwise rejects with E_LIMIT_EXCEEDED. */
  async execute<T>(
    fn: (ctx: PolicyContext) => T | Promise<T>,
    options: AdaptiveLimitCallOptions = {},
  ): Promise<T> {
    // refused before a slot is taken: a call that never ran must not count as a drop (it shrank the limit)
    if (typeof fn !== 'function')
      throw new TypeError(`adaptiveLimit execute(fn): fn must be a function; received ${received(fn)}`)
    checkCallOptions(options)
    const token = this.acquire(options.priority)
    try {
      const v = await fn(rootContext(options.signal))
      this.release(token, false)
      return v
    } catch (err) {
      this.release(token, true)
      throw err
    }
  }

  /**
   * Takes a slot for `priority` or throws E_LIMIT_EXCEEDED; pair it with `release()`. For callers
   * that cannot wrap the work in one function (an HTTP server's request hooks).
   */
  acquire(priority = this.defaultPriority): AdaptiveLimitToken {
    const share = this.shares.get(priority)
    if (share === undefined) {
      throw new TypeError(`priority "${priority}" is not one of: ${[...this.shares.keys()].join(', ')}`)
    }
    this.counts.calls++
    const limit = Math.max(1, Math.floor(this._limit))
    const mine = this.inflightBy.get(priority) as number
    if (this.inflight >= limit && mine >= Math.ceil(share * limit)) {
      this.counts.rejected++
      if (this.events.has('rejected'))
        this.events.emit('rejected', { priority, limit, inflight: this.inflight })
      throw new LimitExceededError(this.name, priority, limit, Math.max(1, this.avgRtt))
    }
    this.inflight++
    this.inflightBy.set(priority, mine + 1)
    return { priority, start: this.now(), inflight: this.inflight, released: false }
  }

  /** Returns a slot; `dropped` marks a failed or timed-out call (it shrinks the limit). */
  release(token: AdaptiveLimitToken, dropped = false): void {
    if (token.released) return
    token.released = true
    if (dropped) this.counts.drops++
    this.sample(this.now() - token.start, token.inflight, dropped)
    this.inflight--
    this.inflightBy.set(token.priority, (this.inflightBy.get(token.priority) as number) - 1)
  }

  private sample(rtt: number, inflight: number, dropped: boolean): void {
    this.samples++
    this.avgRtt = this.avgRtt === 0 ? rtt : this.avgRtt * 0.9 + rtt * 0.1
    const limit = this._limit
    let next: number
    if (this.vegas) {
      // no-load RTT: the minimum over the current and the previous window of samples, so a
      // slower new normal is learned within two windows, but an overload (where every sample
      // is slow) cannot pass for one as long as some calls still get through fast
      if (rtt < this.minCur) this.minCur = rtt
      if (this.samples % WINDOW === 0) {
        this.minPrev = this.minCur
        this.minCur = Number.POSITIVE_INFINITY
      }
      this.rttNoLoad = Math.min(this.minPrev, this.minCur)
      const log = Math.max(1, Math.log10(limit))
      if (dropped) next = limit - log
      else if (inflight * 2 < limit) return
      else {
        const queue = Math.ceil(limit * (1 - this.rttNoLoad / Math.max(rtt, 1e-6)))
        if (queue <= log) next = limit + this.beta * log
        else if (queue < this.alpha * log) next = limit + log
        else if (queue > this.beta * log) next = limit - log
        else return
      }
    } else {
      this.longRtt = this.longRtt === 0 ? rtt : this.longRtt * (1 - 1 / 600) + rtt / 600
      // after an overload the long average lags high; pull it toward the present
      if (this.longRtt / Math.max(rtt, 1e-6) > 2) this.longRtt *= 0.95
      if (!dropped && inflight * 2 < limit) return
      const gradient = dropped
        ? 0.5
        : Math.max(0.5, Math.min(1, (this.tolerance * this.longRtt) / Math.max(rtt, 1e-6)))
      next = limit * gradient + Math.sqrt(limit)
    }
    next = limit * (1 - this.smoothing) + next * this.smoothing
    next = Math.min(this.max, Math.max(this.min, next))
    if (Math.floor(next) !== Math.floor(limit) && this.events.has('limit'))
      this.events.emit('limit', { from: limit, to: next })
    this._limit = next
  }

  on<K extends keyof AdaptiveLimitEvents>(event: K, listener: (payload: AdaptiveLimitEvents[K]) => void) {
    return this.events.on(event, listener)
  }

  /** The limit, calls in flight per class, and counters. */
  stats() {
    return {
      ...this.counts,
      limit: this._limit,
      inflight: this.inflight,
      byPriority: Object.fromEntries(this.inflightBy),
      avgRttMs: this.avgRtt,
    }
  }
}

/** Creates an adaptive concurrency limit. */
export function adaptiveLimit(options: AdaptiveLimitOptions = {}): AdaptiveLimit {
  return new AdaptiveLimit(options)
}
