/**
 * Load shedding: refuse new requests with 503 and a Retry-After that grows with the overload,
 * when event-loop delay, event-loop utilization or heap use pass their limits. Cheap: the
 * signals are sampled every 100 ms (the delay is how late that tick fires), the per-request
 * check reads three numbers.
 */
import { performance } from 'node:perf_hooks'
import type { AdaptiveLimit } from '../resilience/index.js'
import { type Duration, toMs } from '../time.js'

/** Shedding options. */
export interface SheddingOptions {
  /** Shed while the event-loop delay (the worst stall of the last 100 ms, decaying) exceeds this. @default '200ms' */
  maxEventLoopDelay?: Duration
  /** Shed while event-loop utilization exceeds this (0..1). A saturated but healthy server runs near 1, so this is off unless set. @default off */
  maxEventLoopUtilization?: number
  /** Shed while the V8 heap in use exceeds this many bytes. @default none */
  maxHeapUsedBytes?: number
  /** Route URLs (patterns as registered) that are never shed. @default the health endpoints */
  exempt?: string[]
  /**
   * An adaptive concurrency limit (hotpath/resilience `adaptiveLimit()`): requests beyond it are
   * shed at once; a route picks its class with `config.priority`.
   */
  adaptiveLimit?: AdaptiveLimit
}

/** Samples load and decides. */
export class Shedder {
  private lastTick = performance.now()
  private readonly maxDelay: number
  private readonly maxElu: number
  private readonly maxHeap: number
  private timer: NodeJS.Timeout | undefined
  private lastElu = performance.eventLoopUtilization()
  delayMs = 0
  elu = 0
  heap = 0
  shed = 0
  readonly exempt: Set<string>
  readonly adaptive: AdaptiveLimit | undefined

  constructor(o: SheddingOptions, defaultExempt: string[]) {
    this.maxDelay = toMs(o.maxEventLoopDelay ?? '200ms', 'shedding.maxEventLoopDelay')
    this.maxElu = o.maxEventLoopUtilization ?? Number.POSITIVE_INFINITY
    if (o.maxEventLoopUtilization !== undefined && !(this.maxElu > 0 && this.maxElu <= 1)) {
      throw new RangeError(`shedding.maxEventLoopUtilization must be in (0, 1]; received ${this.maxElu}`)
    }
    this.maxHeap = o.maxHeapUsedBytes ?? Number.POSITIVE_INFINITY
    this.exempt = new Set(o.exempt ?? defaultExempt)
    if (o.adaptiveLimit !== undefined && typeof o.adaptiveLimit?.acquire !== 'function') {
      throw new TypeError('shedding.adaptiveLimit must be an adaptiveLimit() from hotpath/resilience')
    }
    this.adaptive = o.adaptiveLimit
  }

  start(): void {
    this.lastTick = performance.now()
    this.timer = setInterval(() => this.sample(), 100)
    this.timer.unref()
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer)
  }

  /** Reads the signals (the interval does it; tests may call it). */
  sample(): void {
    // how late this 100 ms tick fired is the stall the loop just had; it decays by half per
    // sample, so one long stall keeps shedding for a few samples instead of one
    const now = performance.now()
    const lag = Math.max(0, now - this.lastTick - 100)
    this.lastTick = now
    this.delayMs = Math.max(lag, this.delayMs / 2)
    this.elu = performance.eventLoopUtilization(this.lastElu).utilization
    this.lastElu = performance.eventLoopUtilization()
    this.heap = process.memoryUsage().heapUsed
  }

  /** Seconds to wait when overloaded (grows with the overload), or 0 to admit. */
  retryAfter(): number {
    const ratio = Math.max(this.delayMs / this.maxDelay, this.elu / this.maxElu, this.heap / this.maxHeap)
    if (ratio <= 1) return 0
    this.shed++
    return Math.min(60, Math.ceil(ratio * 2))
  }
}
