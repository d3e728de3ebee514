/**
 * Load shedding: refuse new requests with 503 and a Retry-After that grows with the overload,
 * when event-loop delay, event-loop utilization or heap use pass their limits. Cheap: the
 * signals come from the one event-loop sampler of hotpath/metrics (the monitor's when there is
 * a monitor, else a private one), sampled in the background; the per-request check reads three
 * numbers.
 */
import { performance } from 'node:perf_hooks'
import type { Disposer } from '../events.js'
import { createEventLoopSampler, type EventLoopSource } from '../metrics/index.js'
import { assertKnownKeys } from '../options.js'
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
  private readonly maxDelay: number
  private readonly maxElu: number
  private readonly maxHeap: number
  private release: Disposer | undefined
  private startedAt = Number.POSITIVE_INFINITY
  private readonly source: EventLoopSource
  shed = 0
  readonly exempt: Set<string>
  readonly adaptive: AdaptiveLimit | undefined

  /** `source`: the event-loop figures to read (`monitor.eventLoop`); a private sampler when omitted. */
  constructor(o: SheddingOptions, defaultExempt: string[], source?: EventLoopSource) {
    assertKnownKeys(
      o,
      ['maxEventLoopDelay', 'maxEventLoopUtilization', 'maxHeapUsedBytes', 'exempt', 'adaptiveLimit'],
      'shedding options',
    )
    this.source = source ?? createEventLoopSampler()
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

  /** Starts reading the source (it samples in the background while retained). */
  start(): void {
    if (this.release !== undefined) return
    // before retain(): a private sampler's first probe counts from the moment it begins
    this.startedAt = performance.now()
    this.release = this.source.retain()
  }

  stop(): void {
    this.release?.()
    this.release = undefined
  }

  /** Seconds to wait when overloaded (grows with the overload), or 0 to admit. */
  retryAfter(): number {
    const s = this.source
    // the source's delay is the recent worst stall, halving per 100 ms window: one long stall
    // keeps shedding for a few windows instead of one
    // stalls from before the shedding started (a slow start-up) are not load
    const delay = s.delayStartedAt >= this.startedAt ? s.delayMs : 0
    const ratio = Math.max(delay / this.maxDelay, s.utilization / this.maxElu, s.heapUsedBytes / this.maxHeap)
    if (ratio <= 1) return 0
    this.shed++
    return Math.min(60, Math.ceil(ratio * 2))
  }
}
