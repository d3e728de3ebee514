/**
 * The bus's counters and its stats snapshot. Per-class figures are maps keyed by class name so
 * the monitor's generic adapter exports each as one gauge with a `class`-like label.
 */
import type { Scheduler } from './scheduler.js'
import { type DeadLetterReason, PRIORITIES, type Priority } from './types.js'

/** Events of a bus. */
export interface BusEvents {
  /** A message went to the dead letters. */
  deadLetter: { id: string; type: string; reason: DeadLetterReason; attempts: number; error: string }
  /** A failed message will be delivered again after `delayMs`. */
  retry: { id: string; type: string; attempt: number; delayMs: number; error: string }
  /** A handler failed (before the retry decision). */
  failure: { id: string; type: string; error: unknown }
  /** Subscribing on the transport failed; the bus tries again after `retryInMs`. */
  subscribeError: { error: unknown; attempt: number; retryInMs: number }
}

/** A bus's stats. */
export interface BusStats {
  /** Messages handed to the transport. */
  sent: number
  /** Messages queued here for handling. */
  received: number
  /** Handled successfully (batch members count one each). */
  handled: number
  /** Handler failures (each attempt). */
  failures: number
  /** Retries scheduled. */
  retries: number
  /** Deliveries of a message whose attempt was above 1 (retries and crash redeliveries). */
  redeliveries: number
  /** Messages dead-lettered. */
  deadLettered: number
  /** Dead letters replayed. */
  replayed: number
  /** Sends dropped by the producer dedup key. */
  dedupHits: number
  /** Deliveries skipped because the processed-set had them. */
  processedHits: number
  /** Messages delayed while a handler's breaker was open or its rate limit refused. */
  deferred: number
  /** Messages shed by backpressure 'shed'. */
  shed: number
  /** Sends that waited for room (backpressure 'block'). */
  blocked: number
  /** Batch handler calls. */
  batches: number
  /** Failed subscribe attempts on the transport (each is retried; see the subscribeError event). */
  subscribeFailures: number
  /** The transport consumes for this bus (false until its subscribe succeeds, and once closed). */
  consuming: boolean
  /** Messages queued now. */
  queued: number
  /** Handlers running now. */
  running: number
  /** Requests waiting for a reply. */
  pendingRequests: number
  /** Dispatches made by ageing rather than by weight. */
  aged: number
  /** Messages queued now, per class. */
  byClassDepth: Record<Priority, number>
  /** Wait of each class's oldest queued message, ms. */
  byClassOldestMs: Record<Priority, number>
  /** Longest wait from queueing to handler start, per class, ms. */
  byClassMaxWaitMs: Record<Priority, number>
  /** Mean wait per class, ms. */
  byClassMeanWaitMs: Record<Priority, number>
  /** Messages dispatched per class. */
  byClassDispatched: Record<Priority, number>
  /** Mean handler time, ms. */
  handlerMeanMs: number
  /** Largest batch handled. */
  maxBatchSize: number
  /** Latest a time flush of a batch ran after its deadline (maxWait), ms. */
  maxBatchLatenessMs: number
}

const perClass = (a: ArrayLike<number>): Record<Priority, number> => ({
  urgent: a[0] as number,
  high: a[1] as number,
  normal: a[2] as number,
  low: a[3] as number,
})

/** Mutable counters; the hot path increments fields directly. */
export class BusCounters {
  sent = 0
  received = 0
  handled = 0
  failures = 0
  retries = 0
  redeliveries = 0
  deadLettered = 0
  replayed = 0
  dedupHits = 0
  processedHits = 0
  deferred = 0
  shed = 0
  blocked = 0
  batches = 0
  subscribeFailures = 0
  consuming = false
  maxBatchSize = 0
  maxBatchLatenessMs = 0
  handlerMs = 0
  handlerRuns = 0
  readonly dispatched = new Float64Array(4)
  readonly waitSum = new Float64Array(4)
  readonly waitMax = new Float64Array(4)

  /** Records a dispatch of class `p` after waiting `wait` ms. */
  dispatch(p: number, wait: number): void {
    this.dispatched[p] = (this.dispatched[p] as number) + 1
    this.waitSum[p] = (this.waitSum[p] as number) + wait
    if (wait > (this.waitMax[p] as number)) this.waitMax[p] = wait
  }

  snapshot(sched: Scheduler, now: number, running: number, pendingRequests: number): BusStats {
    const mean = PRIORITIES.map((_, i) => {
      const n = this.dispatched[i] as number
      return n === 0 ? 0 : (this.waitSum[i] as number) / n
    })
    return {
      sent: this.sent,
      received: this.received,
      handled: this.handled,
      failures: this.failures,
      retries: this.retries,
      redeliveries: this.redeliveries,
      deadLettered: this.deadLettered,
      replayed: this.replayed,
      dedupHits: this.dedupHits,
      processedHits: this.processedHits,
      deferred: this.deferred,
      shed: this.shed,
      blocked: this.blocked,
      batches: this.batches,
      subscribeFailures: this.subscribeFailures,
      consuming: this.consuming,
      queued: sched.size,
      running,
      pendingRequests,
      aged: sched.aged,
      byClassDepth: perClass(sched.depths()),
      byClassOldestMs: perClass(sched.oldest(now)),
      byClassMaxWaitMs: perClass(this.waitMax),
      byClassMeanWaitMs: perClass(mean),
      byClassDispatched: perClass(this.dispatched),
      handlerMeanMs: this.handlerRuns === 0 ? 0 : this.handlerMs / this.handlerRuns,
      maxBatchSize: this.maxBatchSize,
      maxBatchLatenessMs: this.maxBatchLatenessMs,
    }
  }
}
