/**
 * A small fixed-memory latency histogram (log buckets, about 3% relative error) for the figures
 * the db layer keeps per pool, per statement fingerprint and per loader: count, sum, max and any
 * percentile, without keeping samples. 1 µs to about 1.5 hours in 512 slots.
 */

const FACTOR = 1.06
const LOG = Math.log(FACTOR)
const SLOTS = 512
const MIN_MS = 0.001

/** A snapshot of a histogram, in milliseconds. */
export interface HistogramSnapshot {
  count: number
  sumMs: number
  meanMs: number
  maxMs: number
  p50Ms: number
  p90Ms: number
  p99Ms: number
}

/** Log-bucket histogram of durations in milliseconds. */
export class Histogram {
  private readonly buckets = new Uint32Array(SLOTS)
  count = 0
  sum = 0
  max = 0

  /** Records one duration (ms); negative or non-finite values are ignored. */
  record(ms: number): void {
    if (!(ms >= 0) || ms === Number.POSITIVE_INFINITY) return
    const i = ms <= MIN_MS ? 0 : Math.min(SLOTS - 1, Math.ceil(Math.log(ms / MIN_MS) / LOG))
    this.buckets[i] = (this.buckets[i] as number) + 1
    this.count++
    this.sum += ms
    if (ms > this.max) this.max = ms
  }

  /** The value at quantile `q` (0..1): the upper bound of the bucket holding it, capped at max. */
  quantile(q: number): number {
    if (this.count === 0) return 0
    const rank = Math.max(1, Math.ceil(q * this.count))
    let seen = 0
    for (let i = 0; i < SLOTS; i++) {
      seen += this.buckets[i] as number
      if (seen >= rank) return Math.min(this.max, MIN_MS * FACTOR ** i)
    }
    return this.max
  }

  /** Count, sum, mean, max and p50/p90/p99. */
  snapshot(): HistogramSnapshot {
    return {
      count: this.count,
      sumMs: this.sum,
      meanMs: this.count === 0 ? 0 : this.sum / this.count,
      maxMs: this.max,
      p50Ms: this.quantile(0.5),
      p90Ms: this.quantile(0.9),
      p99Ms: this.quantile(0.99),
    }
  }

  /** Forgets everything. */
  reset(): void {
    this.buckets.fill(0)
    this.count = 0
    this.sum = 0
    this.max = 0
  }
}
