/**
 * Metrics for paths that run on every request. prom-client's `observe(labels, v)` and
 * `set(labels, v)` hash the label set on every call, and the cardinality guard builds a key on
 * top of that; here a label set is bound once (admitted by the guard once) and each observation
 * bumps plain numbers. The series are built when the registry is read (a live metric), in
 * prom-client's layout, so the text, the JSON view and the dashboard read them like any other.
 * Every source on one monitor shares the same series: two plugins binding the same labels add up.
 */
import type { Labels } from './cardinality.js'
import { histogramValues, type LiveMetric } from './live-metric.js'

/** One bound series of a histogram: `observe` costs a bucket search and three additions. */
export interface BoundSeries {
  observe(value: number): void
}

class Series implements BoundSeries {
  /** Per-bucket counts (not cumulative); values above the last bound count only in `count`. */
  readonly counts: Float64Array
  sum = 0
  count = 0

  constructor(
    readonly labels: Record<string, string>,
    private readonly bounds: readonly number[],
  ) {
    this.counts = new Float64Array(bounds.length)
  }

  observe(value: number): void {
    const b = this.bounds
    let i = 0
    // prom-client's `le` is inclusive: the first bound the value does not exceed
    while (i < b.length && value > (b[i] as number)) i++
    if (i < b.length) this.counts[i] = (this.counts[i] as number) + 1
    this.sum += value
    this.count++
  }
}

/** A histogram whose series are bound to their labels once. */
export class BoundHistogram {
  private readonly series = new Map<string, Series>()

  constructor(
    readonly name: string,
    private readonly labelNames: readonly string[],
    private readonly bounds: readonly number[],
    private readonly admit: (labels: Labels) => Labels | undefined,
    live: LiveMetric,
  ) {
    live.add((out) => {
      for (const s of this.series.values()) {
        histogramValues(out, this.name, s.labels, this.bounds, s.counts, s.count, s.sum)
      }
    })
  }

  /**
   * The series of `labels` (made on first use; the cardinality guard admits it then, and a label
   * set beyond the cap shares the overflow series). Keep the result: binding hashes the labels.
   */
  bind(labels: Labels): BoundSeries {
    const admitted = this.admit(labels) ?? labels
    let key = ''
    const own: Record<string, string> = {}
    for (const n of this.labelNames) {
      const v = String(admitted[n] ?? '')
      own[n] = v
      key += `${v}\u0000`
    }
    let s = this.series.get(key)
    if (s === undefined) {
      s = new Series(own, this.bounds)
      this.series.set(key, s)
    }
    return s
  }
}

/** A gauge without labels that sources move by deltas; read when the registry is read. */
export class LiveGauge {
  private value = 0

  constructor(live: LiveMetric) {
    live.add((out) => out.push({ value: this.value, labels: {} }))
  }

  add(delta: number): void {
    this.value += delta
  }
}
