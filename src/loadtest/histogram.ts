/**
 * Latency histograms: HdrHistogram (hdr-histogram-js, pure JS so workers and every Node version
 * behave alike) recording microseconds, 3 significant digits, up to one hour. Encoded as
 * HdrHistogram's compressed base64 so two runs (or two machines) merge exactly: the counts add,
 * nothing is re-sampled.
 */
import * as hdr from 'hdr-histogram-js'

/** Largest recordable value: one hour in microseconds (larger values are clamped to it). */
const HIGHEST_US = 3_600_000_000

/** The percentiles every summary carries. */
export const SUMMARY_PERCENTILES = [50, 75, 90, 95, 99, 99.9, 99.99] as const

/** Latency figures in milliseconds, as printed and written to the JSON report. */
export interface LatencySummary {
  /** Number of recorded values. */
  count: number
  /** Smallest value (ms). */
  min: number
  /** Mean (ms). */
  mean: number
  /** Standard deviation (ms). */
  stdev: number
  /** Largest value (ms). */
  max: number
  /** Value at each of `SUMMARY_PERCENTILES`, keyed `p50`, `p99.9`... (ms). */
  percentiles: Record<string, number>
}

/** One HDR histogram of durations. Record milliseconds; stored as microseconds. */
export class LatencyHistogram {
  readonly hdr: hdr.Histogram

  constructor(from?: hdr.Histogram) {
    this.hdr =
      from ??
      hdr.build({
        lowestDiscernibleValue: 1,
        highestTrackableValue: HIGHEST_US,
        numberOfSignificantValueDigits: 3,
        bitBucketSize: 32,
        useWebAssembly: false,
      })
  }

  /** Records one duration in milliseconds (sub-millisecond precision kept). */
  record(ms: number): void {
    this.hdr.recordValue(toUs(ms))
  }

  /** Records `count` identical durations. */
  recordCount(ms: number, count: number): void {
    this.hdr.recordValueWithCount(toUs(ms), count)
  }

  /** Number of recorded values. */
  get count(): number {
    return this.hdr.totalCount
  }

  /** The value at `percentile` (0-100) in milliseconds; 0 when empty. */
  at(percentile: number): number {
    return this.hdr.totalCount === 0 ? 0 : this.hdr.getValueAtPercentile(percentile) / 1000
  }

  /** Adds every count of `other` (exact merge). */
  add(other: LatencyHistogram): void {
    this.hdr.add(other.hdr)
  }

  /** Empties the histogram (keeps its memory). */
  reset(): void {
    this.hdr.reset()
  }

  /** Compressed base64 encoding (HdrHistogram V2 format), readable by `LatencyHistogram.decode`. */
  encode(): string {
    return hdr.encodeIntoCompressedBase64(this.hdr)
  }

  /** Decodes `encode()`'s output (or any HdrHistogram compressed base64 string). */
  static decode(encoded: string): LatencyHistogram {
    const target = new LatencyHistogram()
    target.hdr.add(hdr.decodeFromCompressedBase64(encoded, 32, false))
    return target
  }

  /** Count, min, mean, stdev, max and the standard percentiles, in milliseconds. */
  summary(): LatencySummary {
    const h = this.hdr
    const empty = h.totalCount === 0
    const percentiles: Record<string, number> = {}
    for (const p of SUMMARY_PERCENTILES) percentiles[`p${p}`] = this.at(p)
    return {
      count: h.totalCount,
      min: empty ? 0 : h.minNonZeroValue / 1000,
      mean: empty ? 0 : round3(h.mean / 1000),
      stdev: empty ? 0 : round3(h.stdDeviation / 1000),
      // The percentile walk, not maxValue: a merged histogram knows only bucket bounds.
      max: this.at(100),
      percentiles,
    }
  }

  /**
   * The full percentile spectrum as [percentile, ms] pairs, on HdrHistogram's log scale of
   * percentiles (50, 75, 87.5, ...), for plots and `--spectrum` output.
   */
  spectrum(ticksPerHalfDistance = 5): Array<[number, number]> {
    const out: Array<[number, number]> = []
    if (this.hdr.totalCount === 0) return out
    // The walk from 0% towards 100% by halving the remaining distance, as HdrHistogram prints it.
    let remaining = 100
    for (let step = 0; step < 12; step++) {
      const base = 100 - remaining
      for (let i = 0; i < ticksPerHalfDistance; i++) {
        const p = base + (remaining / 2) * (i / ticksPerHalfDistance)
        out.push([round3(p), this.at(p)])
      }
      remaining /= 2
    }
    out.push([100, this.at(100)])
    return out
  }
}

function toUs(ms: number): number {
  const us = Math.round(ms * 1000)
  return Math.min(Math.max(us, 1), HIGHEST_US)
}

function round3(n: number): number {
  return Math.round(n * 1000) / 1000
}
