/**
 * Durations and the injectable clock. Durations are numbers of milliseconds or strings such as
 * '250ms', '30s', '5m', '1h', '1d'. Every component that reads time takes a `Clock` so tests can
 * drive it with a `FakeClock` and no real waiting.
 */

/** A duration: milliseconds, or a string like '250ms', '30s', '5m', '1h', '1d'. */
export type Duration = number | `${number}${'ms' | 's' | 'm' | 'h' | 'd'}`

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }
const PATTERN = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)$/

/**
 * Parses a duration to milliseconds. Throws `TypeError` for values of the wrong type and
 * `RangeError` for negative, non-finite or malformed values, naming `option`.
 */
export function toMs(value: unknown, option = 'duration', max = Number.MAX_SAFE_INTEGER): number {
  let ms: number
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0) {
      throw new RangeError(`${option} must be a finite number of milliseconds >= 0; received ${value}`)
    }
    ms = value
  } else if (typeof value === 'string') {
    const match = PATTERN.exec(value.trim())
    if (match === null) {
      throw new RangeError(
        `${option} must look like '250ms', '30s', '5m', '1h' or '1d'; received ${JSON.stringify(value)}`,
      )
    }
    ms = Number(match[1]) * (UNITS[match[2] as string] as number)
  } else {
    throw new TypeError(`${option} must be a number (ms) or a duration string; received ${typeof value}`)
  }
  if (ms > max) {
    throw new RangeError(`${option} must be at most ${max} ms (${describe(max)}); received ${String(value)}`)
  }
  return ms
}

/** The longest delay a Node.js timer can hold (2^31 - 1 ms, about 24.8 days). */
export const MAX_TIMER_MS = 2_147_483_647

/**
 * Parses a duration that will be handed to a timer: like `toMs`, and refused with a `RangeError`
 * naming `option` above `MAX_TIMER_MS` (Node would fire such a timer after 1 ms).
 */
export function toTimerMs(value: unknown, option = 'duration'): number {
  return toMs(value, option, MAX_TIMER_MS)
}

const DAY_MS = 86_400_000

function describe(ms: number): string {
  return ms >= 2 * DAY_MS ? `about ${Math.floor(ms / DAY_MS)} days` : `${ms / 1000} s`
}

/** Timer handle returned by a clock. */
export type TimerHandle = unknown

/**
 * The source of time and timers. Two kinds of timer: one a caller is awaiting (a retry backoff, a
 * timeout, an acquire wait) keeps the process alive, so a script that awaits a hotpath call always
 * gets its answer; a background one (probes, samplers, sweeps) never does.
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number
  /** Schedules `fn` after `ms` for a caller who is waiting on it: the timer keeps the process alive. */
  setTimeout(fn: () => void, ms: number): TimerHandle
  /** Schedules background work after `ms`: the timer never keeps the process alive. */
  setBackgroundTimeout(fn: () => void, ms: number): TimerHandle
  /** Cancels a timer returned by either `setTimeout` or `setBackgroundTimeout`. */
  clearTimeout(handle: TimerHandle): void
}

/** The real clock: `Date.now()`, ref'd timers for waiting callers, unref'd ones for background work. */
export const systemClock: Clock = {
  now: Date.now,
  setTimeout(fn, ms) {
    return setTimeout(fn, ms)
  },
  setBackgroundTimeout(fn, ms) {
    const t = setTimeout(fn, ms)
    t.unref()
    return t
  },
  clearTimeout(handle) {
    clearTimeout(handle as NodeJS.Timeout)
  },
}

interface FakeTimer {
  at: number
  seq: number
  fn: () => void
}

/** A clock for tests: time moves only when `advance()` or `set()` is called. */
export class FakeClock implements Clock {
  private time: number
  private seq = 0
  private timers = new Map<number, FakeTimer>()

  constructor(start = 1_700_000_000_000) {
    this.time = start
  }

  now = (): number => this.time

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const seq = ++this.seq
    this.timers.set(seq, { at: this.time + Math.max(0, ms), seq, fn })
    return seq
  }

  setBackgroundTimeout(fn: () => void, ms: number): TimerHandle {
    return this.setTimeout(fn, ms)
  }

  clearTimeout(handle: TimerHandle): void {
    this.timers.delete(handle as number)
  }

  /** Number of timers waiting to fire. */
  get pending(): number {
    return this.timers.size
  }

  /** Moves time forward by `ms`, firing due timers in order. */
  advance(ms: number): void {
    const target = this.time + ms
    for (;;) {
      let next: FakeTimer | undefined
      for (const t of this.timers.values()) {
        if (
          t.at <= target &&
          (next === undefined || t.at < next.at || (t.at === next.at && t.seq < next.seq))
        ) {
          next = t
        }
      }
      if (next === undefined) break
      this.timers.delete(next.seq)
      this.time = Math.max(this.time, next.at)
      next.fn()
    }
    this.time = target
  }

  /** Moves time forward and lets promise callbacks triggered by the fired timers run. */
  async tick(ms: number): Promise<void> {
    this.advance(ms)
    for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve))
  }
}
