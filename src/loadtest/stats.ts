/**
 * What a run measured: corrected and uncorrected latency histograms, send accuracy, outcome counts
 * and a per-second timeline. Every request ends in exactly one `record()` call.
 */
import { LatencyHistogram } from './histogram.js'

/** How one request ended. Times are clock milliseconds. */
export interface Outcome {
  /** When the schedule meant it to go out (the open model); equal to `start` in the closed model. */
  intended: number
  /** When it was handed to the connection. */
  start: number
  /** When the response (or the error) arrived. */
  end: number
  /** Passed its checks (by default: a status below 400). */
  ok: boolean
  /** HTTP status, when a response arrived. */
  status?: number
  /** Why it failed: an error code, `status 503`, `check ...`. */
  error?: string
  /** Response body bytes read. */
  bytes?: number
}

/** One second of the run. */
export interface TimelinePoint {
  /** Seconds since the start of the run (the end of this second). */
  t: number
  /** Requests completed in this second. */
  requests: number
  /** Of which failed. */
  errors: number
  /** Corrected latency percentiles of this second's completions (ms). */
  p50: number
  /** See `p50`. */
  p90: number
  /** See `p50`. */
  p99: number
  /** See `p50`. */
  max: number
}

/** Counters of the send side (open model). */
export interface SendCounters {
  /** Sends the schedule asked for. */
  scheduled: number
  /** Sends that went out. */
  sent: number
  /** Sends refused because `maxInFlight` requests were already outstanding. */
  dropped: number
  /** Sends that went out more than `lateAfterMs` after their intended time. */
  late: number
}

/** Accumulates outcomes; cheap enough to call per request. */
export class Stats {
  readonly corrected = new LatencyHistogram()
  readonly uncorrected = new LatencyHistogram()
  /** How late each send went out against its intended time (open model). */
  readonly sendDelay = new LatencyHistogram()
  readonly sends: SendCounters = { scheduled: 0, sent: 0, dropped: 0, late: 0 }
  readonly statuses: Record<string, number> = {}
  readonly errorKinds: Record<string, number> = {}
  readonly timeline: TimelinePoint[] = []
  requests = 0
  errors = 0
  bytes = 0
  /** Clock time the run started (set by the runner). */
  startedAt = 0
  /** Clock time the last request finished or the run stopped (set by the runner). */
  endedAt = 0
  private readonly interval = new LatencyHistogram()
  private intervalRequests = 0
  private intervalErrors = 0

  /** Records a finished request. */
  record(o: Outcome): void {
    this.requests++
    this.intervalRequests++
    this.corrected.record(o.end - o.intended)
    this.uncorrected.record(o.end - o.start)
    this.interval.record(o.end - o.intended)
    if (o.status !== undefined) this.statuses[o.status] = (this.statuses[o.status] ?? 0) + 1
    if (o.bytes !== undefined) this.bytes += o.bytes
    if (!o.ok) {
      this.errors++
      this.intervalErrors++
      const kind = o.error ?? (o.status === undefined ? 'error' : `status ${o.status}`)
      this.errorKinds[kind] = (this.errorKinds[kind] ?? 0) + 1
    }
  }

  /** Records that a send went out `delayMs` after its intended time. */
  recordSend(delayMs: number, lateAfterMs: number): void {
    this.sends.sent++
    this.sendDelay.record(delayMs)
    if (delayMs > lateAfterMs) this.sends.late++
  }

  /** Closes the current second of the timeline (called once a second by the runner). */
  closeInterval(tSeconds: number): TimelinePoint {
    const point: TimelinePoint = {
      t: tSeconds,
      requests: this.intervalRequests,
      errors: this.intervalErrors,
      p50: this.interval.at(50),
      p90: this.interval.at(90),
      p99: this.interval.at(99),
      max: this.interval.at(100),
    }
    this.timeline.push(point)
    this.interval.reset()
    this.intervalRequests = 0
    this.intervalErrors = 0
    return point
  }

  /** Fraction of requests that failed (0 when none ran). */
  get errorRate(): number {
    return this.requests === 0 ? 0 : this.errors / this.requests
  }

  /** Completed requests per second over the run so far. */
  throughput(now: number): number {
    const seconds = ((this.endedAt || now) - this.startedAt) / 1000
    return seconds <= 0 ? 0 : this.requests / seconds
  }
}
