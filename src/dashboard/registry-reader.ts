/**
 * Reads the monitor's prom-client registry between ticks and turns cumulative counters and
 * histograms into per-tick deltas. Reading the registry, not hooking each part, is what lets the
 * dashboard show any figure a part already exports, with no code in that part.
 */
import type { Registry } from 'prom-client'

/** One value of a metric, as prom-client's `metric.get()` returns it. */
interface MetricValue {
  value: number
  labels: Record<string, string | number>
  metricName?: string
}

/** Cumulative series of one histogram, grouped by their labels (without `le`). */
export interface HistogramRead {
  /** Finite upper bounds in seconds, ascending. */
  bounds: number[]
  /** Label set key -> per-bucket counts since the previous read (the last is +Inf). */
  deltas: Map<string, { labels: Record<string, string | number>; buckets: number[] }>
  /** Sum of `_count` over every label set (cumulative). */
  total: number
  /** Sum of `_sum` increases over every label set since the previous read (seconds). */
  sumDelta: number
}

const labelKey = (labels: Record<string, string | number>, skip?: string): string => {
  let k = ''
  for (const name of Object.keys(labels).sort()) if (name !== skip) k += `${name}=${labels[name]}\u0000`
  return k
}

/** Reads registry metrics as deltas since the previous read of the same metric. */
export class RegistryReader {
  private readonly previous = new Map<string, Map<string, number>>()

  constructor(private readonly registry: Registry) {}

  private async values(name: string): Promise<MetricValue[] | undefined> {
    const metric = this.registry.getSingleMetric(name)
    if (metric === undefined) return undefined
    const got = (await metric.get()) as { values: MetricValue[] }
    return got.values
  }

  /** The current value of every series of a gauge (label key -> value), or undefined if absent. */
  async gauge(name: string): Promise<number | undefined> {
    const values = await this.values(name)
    if (values === undefined) return undefined
    let sum = 0
    for (const v of values) sum += v.value
    return sum
  }

  /**
   * Increases of a counter since the previous read, summed per `group(labels)`. A series first
   * seen after the first read counts from zero (its first requests are not lost); a series that
   * went down (a reset) counts from zero again.
   */
  async counter(
    name: string,
    group: (labels: Record<string, string | number>) => string,
  ): Promise<Map<string, number>> {
    const out = new Map<string, number>()
    const values = await this.values(name)
    if (values === undefined) return out
    const prev = this.prevOf(name)
    for (const v of values) {
      const key = labelKey(v.labels)
      const before = prev.get(key) ?? 0
      prev.set(key, v.value)
      const d = v.value >= before ? v.value - before : v.value
      if (d === 0) continue
      const g = group(v.labels)
      out.set(g, (out.get(g) ?? 0) + d)
    }
    return out
  }

  /** Per-bucket increases of a histogram since the previous read, per label set. */
  async histogram(name: string): Promise<HistogramRead | undefined> {
    const values = await this.values(name)
    if (values === undefined) return undefined
    const prev = this.prevOf(name)
    const series = new Map<string, { labels: Record<string, string | number>; cum: Map<number, number> }>()
    let total = 0
    let sumDelta = 0
    const bounds = new Set<number>()
    for (const v of values) {
      const metricName = v.metricName ?? ''
      if (metricName.endsWith('_count')) {
        total += v.value
        continue
      }
      if (metricName.endsWith('_sum')) {
        const key = `sum:${labelKey(v.labels)}`
        const before = prev.get(key) ?? 0
        prev.set(key, v.value)
        sumDelta += v.value >= before ? v.value - before : v.value
        continue
      }
      if (!metricName.endsWith('_bucket')) continue
      const le = v.labels.le === '+Inf' ? Number.POSITIVE_INFINITY : Number(v.labels.le)
      if (Number.isFinite(le)) bounds.add(le)
      const key = labelKey(v.labels, 'le')
      let s = series.get(key)
      if (s === undefined) {
        const { le: _le, ...rest } = v.labels
        s = { labels: rest, cum: new Map() }
        series.set(key, s)
      }
      s.cum.set(le, v.value)
    }
    const sorted = [...bounds].sort((a, b) => a - b)
    const edges = [...sorted, Number.POSITIVE_INFINITY]
    const deltas: HistogramRead['deltas'] = new Map()
    for (const [key, s] of series) {
      const buckets = new Array<number>(edges.length).fill(0)
      let below = 0
      let changed = false
      for (let i = 0; i < edges.length; i++) {
        const edge = edges[i] as number
        const now = s.cum.get(edge) ?? 0
        const pkey = `${key}le=${edge}`
        const before = prev.get(pkey) ?? 0
        prev.set(pkey, now)
        const cumDelta = now >= before ? now - before : now
        buckets[i] = Math.max(0, cumDelta - below)
        below = cumDelta
        if (buckets[i] !== 0) changed = true
      }
      if (changed) deltas.set(key, { labels: s.labels, buckets })
    }
    return { bounds: sorted, deltas, total, sumDelta }
  }

  private prevOf(name: string): Map<string, number> {
    let p = this.previous.get(name)
    if (p === undefined) {
      p = new Map()
      this.previous.set(name, p)
    }
    return p
  }
}
