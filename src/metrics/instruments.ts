/**
 * The monitor's instruments: the counter, gauge and histogram helpers (created once per name,
 * behind the cardinality guard), bound histograms and live gauges for hot paths, and `measure()`
 * and timers, which record each operation in the duration histogram, the error counter and the
 * per-operation stats of the JSON snapshot. The monitor (monitor.ts) exposes them as its own
 * methods; this file also checks the options that shape them.
 */
import { performance } from 'node:perf_hooks'
import { Counter, Gauge, Histogram, type Registry } from 'prom-client'
import { BoundHistogram, LiveGauge } from './bound.js'
import { CardinalityGuard, type Labels } from './cardinality.js'
import { liveMetric } from './live-metric.js'
import type { MonitorOptions } from './monitor-options.js'
import { OperationStatsTable } from './op-stats.js'

const DEFAULT_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

interface OpHandle {
  child: { observe(v: number): void }
  errors: { inc(): void }
}

/** A counter series set, as `counter()` returns it. */
export interface CounterHandle {
  inc: (labels?: Labels, n?: number) => void
}

/** A gauge series set, as `gauge()` returns it. */
export interface GaugeHandle {
  set: (labels: Labels | undefined, v: number) => void
  /** Removes a series (a detached component's), freeing its place under the cardinality cap. */
  remove: (labels: Labels) => void
}

/** A histogram series set, as `histogram()` returns it. */
export interface HistogramHandle {
  observe: (labels: Labels | undefined, seconds: number) => void
}

/** The metric helpers and operation timing of one monitor, on its registry. */
export class Instruments {
  /** Series per metric past the cap are folded into overflow series (counted in `dropped`). */
  readonly guard: CardinalityGuard
  /** Per-operation stats for the JSON snapshot. */
  readonly ops: OperationStatsTable
  private readonly opHandles = new Map<string, OpHandle>()
  private readonly opHistogram: Histogram<string>
  private readonly opErrors: Counter<string>
  private readonly metricsCache = new Map<string, Counter<string> | Gauge<string> | Histogram<string>>()
  private readonly bound = new Map<string, BoundHistogram>()
  private readonly liveGauges = new Map<string, LiveGauge>()

  /** Checks `maxSeriesPerMetric`, `operations` and `latencyBuckets`, and registers the operation metrics. */
  constructor(
    readonly registry: Registry,
    readonly prefix: string,
    options: MonitorOptions,
    warn: (message: string) => void,
  ) {
    const maxSeries = options.maxSeriesPerMetric ?? 1000
    if (!Number.isInteger(maxSeries) || maxSeries < 1) {
      throw new RangeError(`maxSeriesPerMetric must be an integer >= 1; received ${maxSeries}`)
    }
    this.guard = new CardinalityGuard(maxSeries, warn)
    const samples = options.operations?.samples ?? 1024
    const maxOps = options.operations?.maxOperations ?? 500
    if (!Number.isInteger(samples) || samples < 1)
      throw new RangeError(`operations.samples must be an integer >= 1; received ${samples}`)
    if (!Number.isInteger(maxOps) || maxOps < 1) {
      throw new RangeError(`operations.maxOperations must be an integer >= 1; received ${maxOps}`)
    }
    this.ops = new OperationStatsTable(samples, maxOps)
    const buckets = options.latencyBuckets ?? DEFAULT_BUCKETS
    if (
      !Array.isArray(buckets) ||
      buckets.length === 0 ||
      buckets.some((b, i) => !(b > 0) || (i > 0 && b <= (buckets[i - 1] as number)))
    ) {
      throw new RangeError('latencyBuckets must be increasing positive numbers of seconds')
    }
    this.opHistogram = new Histogram({
      name: `${this.prefix}operation_duration_seconds`,
      help: 'Duration of measured operations',
      labelNames: ['operation'],
      buckets,
      registers: [this.registry],
    })
    this.opErrors = new Counter({
      name: `${this.prefix}operation_errors_total`,
      help: 'Measured operations that threw',
      labelNames: ['operation'],
      registers: [this.registry],
    })
  }

  private metric<M extends Counter<string> | Gauge<string> | Histogram<string>>(
    name: string,
    make: () => M,
  ): M {
    let m = this.metricsCache.get(name)
    if (m === undefined) {
      m = (this.registry.getSingleMetric(name) as M | undefined) ?? make()
      this.metricsCache.set(name, m)
    }
    return m as M
  }

  /** A counter (created once, cardinality-guarded). */
  counter(name: string, help: string, labelNames: string[] = []): CounterHandle {
    const c = this.metric(name, () => new Counter({ name, help, labelNames, registers: [this.registry] }))
    return {
      inc: (labels?: Labels, n = 1) => {
        const l = this.guard.admit(name, labels, labelNames)
        if (l === undefined) c.inc(n)
        else c.inc(l, n)
      },
    }
  }

  /** A gauge (created once, cardinality-guarded). */
  gauge(name: string, help: string, labelNames: string[] = []): GaugeHandle {
    const g = this.metric(name, () => new Gauge({ name, help, labelNames, registers: [this.registry] }))
    return {
      set: (labels: Labels | undefined, v: number) => {
        const l = this.guard.admit(name, labels, labelNames)
        if (l === undefined) g.set(v)
        else g.set(l, v)
      },
      remove: (labels: Labels) => {
        if (this.guard.forget(name, labels, labelNames)) g.remove(labels as Record<string, string>)
      },
    }
  }

  /** A histogram in seconds (created once, cardinality-guarded). */
  histogram(
    name: string,
    help: string,
    labelNames: string[] = [],
    buckets: number[] = DEFAULT_BUCKETS,
  ): HistogramHandle {
    const h = this.metric(
      name,
      () => new Histogram({ name, help, labelNames, buckets, registers: [this.registry] }),
    )
    return {
      observe: (labels: Labels | undefined, seconds: number) => {
        const l = this.guard.admit(name, labels, labelNames)
        if (l === undefined) h.observe(seconds)
        else h.observe(l, seconds)
      },
    }
  }

  /** A histogram in seconds for hot paths (see `Monitor.boundHistogram`). */
  boundHistogram(name: string, help: string, labelNames: string[], buckets: number[] = DEFAULT_BUCKETS) {
    let h = this.bound.get(name)
    if (h === undefined) {
      h = new BoundHistogram(
        name,
        labelNames,
        buckets,
        (labels) => this.guard.admit(name, labels, labelNames),
        liveMetric(this.registry, name, help, 'histogram'),
      )
      this.bound.set(name, h)
    }
    return h
  }

  /** A gauge without labels moved by deltas; shared by every caller on this monitor. */
  liveGauge(name: string, help: string): LiveGauge {
    let g = this.liveGauges.get(name)
    if (g === undefined) {
      g = new LiveGauge(liveMetric(this.registry, name, help, 'gauge'))
      this.liveGauges.set(name, g)
    }
    return g
  }

  private op(name: string): OpHandle {
    let h = this.opHandles.get(name)
    if (h === undefined) {
      const key = `${this.prefix}operation_duration_seconds`
      const labels = this.guard.admit(key, { operation: name }, ['operation']) as Labels
      const op = String(labels.operation)
      h = { child: this.opHistogram.labels(op), errors: this.opErrors.labels(op) }
      // overflowed names share one handle, but the table of handles itself stays bounded
      if (this.opHandles.size < 10_000) this.opHandles.set(name, h)
    }
    return h
  }

  /** Runs `fn` and records its duration and outcome under `name` (see `Monitor.measure`). */
  measure<T>(name: string, fn: () => T): T {
    const h = this.op(name)
    const start = performance.now()
    let r: T
    try {
      r = fn()
    } catch (err) {
      this.finish(name, h, start, true)
      throw err
    }
    if (r instanceof Promise) {
      return r.then(
        (v) => {
          this.finish(name, h, start, false)
          return v
        },
        (e: unknown) => {
          this.finish(name, h, start, true)
          throw e
        },
      ) as T
    }
    this.finish(name, h, start, false)
    return r
  }

  private finish(name: string, h: OpHandle, start: number, failed: boolean): void {
    const ms = performance.now() - start
    h.child.observe(ms / 1000)
    if (failed) h.errors.inc()
    this.ops.record(name, ms, failed)
  }

  /** Starts a timer for `name`; call the result when done (pass true if it failed). Returns seconds. */
  timer(name: string): (failed?: boolean) => number {
    const h = this.op(name)
    const start = performance.now()
    return (failed = false) => {
      this.finish(name, h, start, failed)
      return (performance.now() - start) / 1000
    }
  }
}
