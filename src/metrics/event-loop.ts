/**
 * The one event-loop sampler: a background timer every `resolution` (10 ms) measures how late it
 * fires — the real delay, without the resolution that `monitorEventLoopDelay` folds into every
 * figure (an idle loop read 10.3 ms there; here it reads under 1 ms). Everything that wants the
 * event loop reads this: the monitor's runtime metrics (percentiles per collection, a real
 * histogram) and the Fastify load shedding (the recent worst stall, ELU and heap per 100 ms
 * window). Users share it with `retain()`; the timer runs while anyone retains it.
 */

import { createHistogram, performance, type RecordableHistogram } from 'node:perf_hooks'
import v8 from 'node:v8'
import type { Disposer } from '../events.js'
import { assertKnownKeys } from '../options.js'
import { type Clock, type Duration, systemClock, type TimerHandle, toTimerMs } from '../time.js'

/** What load shedding and other readers need from the event loop (cheap field reads). */
export interface EventLoopSource {
  /** The recent worst stall in ms: the current window's, or the earlier worst halving per window. */
  readonly delayMs: number
  /**
   * When the stall `delayMs` reports began (performance.now() ms), so a reader can ignore stalls
   * from before it started (a server's slow start is not load).
   */
  readonly delayStartedAt: number
  /** Event-loop utilization (0..1) over the last completed window. */
  readonly utilization: number
  /** V8 heap in use (bytes) at the end of the last completed window. */
  readonly heapUsedBytes: number
  /** Keeps the source sampling until the returned disposer is called (idempotent). */
  retain(): Disposer
}

/** Delay statistics of one collection window (milliseconds). */
export interface EventLoopDelayStats {
  samples: number
  minMs: number
  maxMs: number
  meanMs: number
  stddevMs: number
  p50Ms: number
  p90Ms: number
  p99Ms: number
}

/** Options of `createEventLoopSampler()`. */
export interface EventLoopSamplerOptions {
  /** How often the loop is probed. @default '10ms' */
  resolution?: Duration
  /** The window of `delayMs`' decay, `utilization` and `heapUsedBytes`. @default '100ms' */
  window?: Duration
  /** Timers (unref'd background timers). @default systemClock */
  clock?: Clock
  /** A high-resolution clock in ms. @default performance.now (clock.now when a clock is given) */
  now?: () => number
}

const KNOWN = ['resolution', 'window', 'clock', 'now']

/** The event-loop sampler. */
export class EventLoopSampler implements EventLoopSource {
  readonly resolutionMs: number
  readonly windowMs: number
  utilization = 0
  heapUsedBytes = 0
  /** The delay the last probe saw (ms). */
  lastDelayMs = 0
  private readonly clock: Clock
  private readonly now: () => number
  private readonly hist: RecordableHistogram = createHistogram()
  private readonly listeners = new Set<(delayMs: number) => void>()
  private users = 0
  private timer: TimerHandle | undefined
  private expected = 0
  private windowStart = 0
  private windowMax = 0
  private windowMaxStart = 0
  private recent = 0
  private recentStart = 0
  private lastElu = performance.eventLoopUtilization()

  constructor(options: EventLoopSamplerOptions = {}) {
    if (options === null || typeof options !== 'object')
      throw new TypeError('event-loop sampler options must be an object')
    assertKnownKeys(options, KNOWN, 'event-loop sampler options')
    this.resolutionMs = toTimerMs(options.resolution ?? '10ms', 'eventLoop.resolution')
    if (this.resolutionMs < 1) throw new RangeError('eventLoop.resolution must be at least 1 ms')
    this.windowMs = toTimerMs(options.window ?? '100ms', 'eventLoop.window')
    if (this.windowMs < this.resolutionMs)
      throw new RangeError('eventLoop.window must be at least eventLoop.resolution')
    this.clock = options.clock ?? systemClock
    this.now = options.now ?? (options.clock === undefined ? () => performance.now() : this.clock.now)
  }

  /** The recent worst stall (ms). */
  get delayMs(): number {
    return Math.max(this.windowMax, this.recent)
  }

  get delayStartedAt(): number {
    return this.windowMax >= this.recent ? this.windowMaxStart : this.recentStart
  }

  /** Whether the probe timer runs. */
  get running(): boolean {
    return this.timer !== undefined
  }

  retain(): Disposer {
    if (this.users++ === 0) this.begin()
    let released = false
    return () => {
      if (released) return
      released = true
      if (--this.users === 0) this.end()
    }
  }

  /** Calls `listener` with every delay measured (ms); returns the unsubscriber. */
  onDelay(listener: (delayMs: number) => void): Disposer {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  /** Records one measured delay (the probe does it; tests feed a fake loop through it). */
  record(delayMs: number, at = this.now()): void {
    const d = Math.max(0, delayMs || 0)
    this.lastDelayMs = d
    // the histogram holds integers >= 1: nanoseconds, +1 so a zero delay is recordable
    this.hist.record(Math.round(d * 1e6) + 1)
    if (d > this.windowMax) {
      this.windowMax = d
      // the probe was due `d` ago and had waited one resolution before that
      this.windowMaxStart = at - d - this.resolutionMs
    }
    for (const l of this.listeners) l(d)
  }

  /** Delay statistics since the previous call (the monitor calls it at each collection). */
  takeStats(): EventLoopDelayStats {
    const h = this.hist
    const ms = (ns: number) => (ns > 1 ? (ns - 1) / 1e6 : 0)
    const samples = h.count
    const out: EventLoopDelayStats =
      samples === 0
        ? { samples: 0, minMs: 0, maxMs: 0, meanMs: 0, stddevMs: 0, p50Ms: 0, p90Ms: 0, p99Ms: 0 }
        : {
            samples,
            minMs: ms(h.min),
            maxMs: ms(h.max),
            meanMs: ms(h.mean),
            stddevMs: Number.isFinite(h.stddev) ? h.stddev / 1e6 : 0,
            p50Ms: ms(h.percentile(50)),
            p90Ms: ms(h.percentile(90)),
            p99Ms: ms(h.percentile(99)),
          }
    h.reset()
    return out
  }

  private begin(): void {
    const now = this.now()
    this.expected = now + this.resolutionMs
    this.windowStart = now
    this.lastElu = performance.eventLoopUtilization()
    this.timer = this.clock.setBackgroundTimeout(this.tick, this.resolutionMs)
  }

  private end(): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer)
    this.timer = undefined
  }

  private readonly tick = (): void => {
    const now = this.now()
    this.timer = this.clock.setBackgroundTimeout(this.tick, this.resolutionMs)
    this.record(now - this.expected, now)
    this.expected = now + this.resolutionMs
    if (now - this.windowStart >= this.windowMs) this.closeWindow(now)
  }

  private closeWindow(now: number): void {
    // one long stall keeps `delayMs` up for a few windows (halving each) instead of one
    if (this.windowMax >= this.recent / 2) {
      this.recent = this.windowMax
      this.recentStart = this.windowMaxStart
    } else this.recent /= 2
    this.windowMax = 0
    this.windowStart = now
    this.utilization = performance.eventLoopUtilization(this.lastElu).utilization
    this.lastElu = performance.eventLoopUtilization()
    this.heapUsedBytes = v8.getHeapStatistics().used_heap_size
  }
}

/** Creates an event-loop sampler (a monitor owns one: `monitor.eventLoop`). */
export function createEventLoopSampler(options: EventLoopSamplerOptions = {}): EventLoopSampler {
  return new EventLoopSampler(options)
}
