/**
 * A metric read at scrape time from counters a component keeps itself. prom-client's
 * `inc(labels)` / `observe(labels)` hash the labels on every call (~0.3–0.5 µs); a component on a
 * hot path (every Redis command) instead bumps plain numbers, and this metric turns them into
 * series when the registry is read. Several sources (clients) can feed one metric name.
 */
import type { Registry } from 'prom-client'
import type { Disposer } from '../events.js'

/** One series as prom-client's `get()` returns it. */
export interface LiveValue {
  value: number
  labels: Record<string, string | number>
  metricName?: string
}

/** Metric types a live metric can have. */
export type LiveType = 'counter' | 'gauge' | 'histogram'

/** A metric registered in a prom-client registry whose values come from collectors. */
export class LiveMetric {
  readonly aggregator = 'sum'
  private readonly collectors = new Set<(out: LiveValue[]) => void>()

  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: LiveType,
  ) {}

  /** Adds a source of series; returns its remover. */
  add(collect: (out: LiveValue[]) => void): Disposer {
    this.collectors.add(collect)
    return () => this.collectors.delete(collect)
  }

  /**
   * prom-client's metric interface: the current series. Series of several sources with the same
   * labels (two caches of one name) are summed into one, as a shared counter would have counted
   * them: an exposition must not repeat a label set.
   */
  get(): { name: string; help: string; type: LiveType; values: LiveValue[]; aggregator: string } {
    let values: LiveValue[] = []
    for (const c of this.collectors) c(values)
    if (this.collectors.size > 1) values = sumByLabels(values)
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator }
  }

  /** Part of prom-client's metric interface; the sources own the numbers. */
  reset(): void {}
}

function sumByLabels(values: LiveValue[]): LiveValue[] {
  const byKey = new Map<string, LiveValue>()
  for (const v of values) {
    const names = Object.keys(v.labels).sort()
    const key = `${v.metricName ?? ''}\u0000${names.map((n) => `${n}=${v.labels[n]}`).join('\u0000')}`
    const seen = byKey.get(key)
    if (seen === undefined) byKey.set(key, { ...v })
    else seen.value += v.value
  }
  return [...byKey.values()]
}

/** The live metric `name` of `registry`, registered on first use. */
export function liveMetric(registry: Registry, name: string, help: string, type: LiveType): LiveMetric {
  const existing = registry.getSingleMetric(name) as unknown
  if (existing instanceof LiveMetric) return existing
  if (existing !== undefined) throw new TypeError(`metric ${name} is already registered with another kind`)
  const m = new LiveMetric(name, help, type)
  registry.registerMetric(m as unknown as Parameters<Registry['registerMetric']>[0])
  return m
}

/** Appends a histogram's series (cumulative buckets, +Inf, sum, count) in prom-client's layout. */
export function histogramValues(
  out: LiveValue[],
  name: string,
  labels: Record<string, string>,
  bounds: readonly number[],
  counts: ArrayLike<number>,
  count: number,
  sum: number,
): void {
  let acc = 0
  for (let i = 0; i < bounds.length; i++) {
    acc += counts[i] as number
    out.push({ value: acc, labels: { le: bounds[i] as number, ...labels }, metricName: `${name}_bucket` })
  }
  out.push({ value: count, labels: { le: '+Inf', ...labels }, metricName: `${name}_bucket` })
  out.push({ value: sum, labels, metricName: `${name}_sum` })
  out.push({ value: count, labels, metricName: `${name}_count` })
}
