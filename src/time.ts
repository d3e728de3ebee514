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
export function toMs(value: unknown, option = 'duration'): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0) {
      throw new RangeError(`${option} must be a finite number of milliseconds >= 0; received ${value}`)
    }
    return value
  }
  if (typeof value === 'string') {
    const match = PATTERN.exec(value.trim())
    if (match === null) {
      throw new RangeError(
        `${option} must look like '250ms', '30s', '5m', '1h' or '1d'; received ${JSON.stringify(value)}`,
      )
    }
    return Number(match[1]) * (UNITS[match[2] as string] as number)
  }
  throw new TypeError(`${option} must be a number (ms) or a duration string; received ${typeof value}`)
}

/** Timer handle returned by a clock. */
export type TimerHandle = unknown

/** The source of time and timers. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number
  /** Schedules `fn` after `ms`; the timer never keeps the process alive. */
  setTimeout(fn: () => void, ms: number): TimerHandle
  /** Cancels a timer returned by `setTimeout`. */
  clearTimeout(handle: TimerHandle): void
}

/** The real clock: `Date.now()` and unref'd timers. */
export const systemClock: Clock = {
  now: Date.now,
  setTimeout(fn, ms) {
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
