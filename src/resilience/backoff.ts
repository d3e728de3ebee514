/**
 * Backoff: how long to wait before retry number `attempt` (1-based). Pure functions of the
 * attempt (and the previous delay, for decorrelated jitter) so they are easy to test.
 */
import { assertKnownKeys } from '../options.js'
import { type Duration, toTimerMs } from '../time.js'

/** A backoff: the delay before retry `attempt`, given the previous delay. */
export interface Backoff {
  next(attempt: number, previous: number): number
}

/** Options of `exponentialBackoff`. */
export interface ExponentialBackoffOptions {
  /** Delay before the first retry. @default 100 */
  initial?: Duration
  /** Longest delay. @default 30000 */
  max?: Duration
  /** Growth factor per attempt. @default 2 */
  factor?: number
  /** 'full': random in [0, delay]; 'none': exact delays. @default 'full' */
  jitter?: 'full' | 'none'
}

/** The same delay every time. */
export function constantBackoff(delay: Duration = 100): Backoff {
  const ms = toTimerMs(delay, 'constantBackoff delay')
  return { next: () => ms }
}

/** Exponential growth with a cap, full jitter by default (AWS architecture blog, 2015). */
export function exponentialBackoff(options: ExponentialBackoffOptions = {}): Backoff {
  assertKnownKeys(options, ['initial', 'max', 'factor', 'jitter'], 'exponentialBackoff options')
  // delays feed a timer: refused above what a timer can hold
  const initial = toTimerMs(options.initial ?? 100, 'exponentialBackoff initial')
  const max = toTimerMs(options.max ?? 30_000, 'exponentialBackoff max')
  const factor = options.factor ?? 2
  if (!Number.isFinite(factor) || factor < 1) throw new RangeError(`factor must be >= 1; received ${factor}`)
  const jitter = options.jitter ?? 'full'
  if (jitter !== 'full' && jitter !== 'none')
    throw new TypeError(`jitter must be 'full' or 'none'; received ${String(jitter)}`)
  return {
    next(attempt) {
      const d = Math.min(max, initial * factor ** Math.max(0, attempt - 1))
      return jitter === 'full' ? Math.random() * d : d
    },
  }
}

/** Decorrelated jitter: random in [initial, previous * 3], capped (the AWS variant). */
export function decorrelatedJitterBackoff(options: { initial?: Duration; max?: Duration } = {}): Backoff {
  assertKnownKeys(options, ['initial', 'max'], 'decorrelatedJitterBackoff options')
  const initial = toTimerMs(options.initial ?? 100, 'decorrelatedJitterBackoff initial')
  const max = toTimerMs(options.max ?? 30_000, 'decorrelatedJitterBackoff max')
  return {
    next(_attempt, previous) {
      const base = previous > 0 ? previous : initial
      return Math.min(max, initial + Math.random() * (base * 3 - initial))
    },
  }
}
