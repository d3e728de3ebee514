/**
 * Recommendations: rules that read the monitor's snapshot and return concrete advice with the
 * evidence behind it. Built-in rules cover caches, breakers, the event loop, the heap and pools;
 * users add their own.
 */

/** One piece of advice. */
export interface Recommendation {
  /** Stable id of the rule that produced it. */
  id: string
  severity: 'info' | 'warning' | 'critical'
  /** What to do, in one sentence. */
  message: string
  /** The figures it is based on. */
  evidence: Record<string, number | string>
}

/** What a rule reads. */
export interface RecommendationContext {
  /** The monitor's snapshot (runtime, operations, components). */
  snapshot: MonitorSnapshotLike
  /** Heap samples over time (oldest first). */
  heapHistory: ReadonlyArray<{ at: number; bytes: number }>
  /** Component stats at the previous evaluation, by `${kind}:${name}` (for deltas). */
  previous: ReadonlyMap<string, Record<string, unknown>>
}

/** The parts of the snapshot the built-in rules use. */
export interface MonitorSnapshotLike {
  /** Absent when the monitor runs with `runtime: false`. */
  runtime?: {
    eventLoop: { delayP99Ms: number; utilization: number }
    memory: { heapUsedBytes: number; heapTotalBytes: number }
    gc: { pauses: number; pauseMsTotal: number; majorPauseMsTotal: number }
    cpu: { processPercent: number }
  }
  components: Array<{ kind: string; name: string; stats: Record<string, unknown> }>
}

/** A recommendation rule. */
export type RecommendationRule = (ctx: RecommendationContext) => Recommendation | Recommendation[] | undefined

const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0)
const obj = (v: unknown): Record<string, unknown> =>
  v !== null && typeof v === 'object' ? (v as Record<string, unknown>) : {}
const pct = (x: number) => `${(x * 100).toFixed(0)}%`

/** Low L1 hit ratio while L1 is full: the working set does not fit. */
export const cacheCapacityRule: RecommendationRule = ({ snapshot }) => {
  const out: Recommendation[] = []
  for (const c of snapshot.components) {
    if (c.kind !== 'cache') continue
    const l1 = obj(c.stats.l1)
    const hits = num(l1.hits)
    const misses = num(l1.misses)
    const max = num(l1.maxEntries)
    const entries = num(l1.entries)
    const total = hits + misses
    if (total < 1000 || max === 0) continue
    const ratio = hits / total
    const fill = entries / max
    if (ratio < 0.6 && fill >= 0.95) {
      out.push({
        id: 'cache-capacity',
        severity: 'warning',
        message: `cache "${c.name}": L1 hit ratio ${pct(ratio)} with ${pct(fill)} of capacity used: raise memory.maxEntries to ${max * 2}`,
        evidence: { hitRatio: ratio, entries, maxEntries: max, lookups: total },
      })
    }
  }
  return out
}

/** Many stale serves: the loader is too slow or failing. */
export const staleServesRule: RecommendationRule = ({ snapshot }) => {
  const out: Recommendation[] = []
  for (const c of snapshot.components) {
    if (c.kind !== 'cache') continue
    const stale = num(c.stats.staleServes)
    const loader = obj(c.stats.loader)
    const calls = num(loader.calls)
    const errors = num(loader.errors) + num(loader.timeouts)
    if (stale >= 50 && stale > calls * 0.2) {
      out.push({
        id: 'cache-stale-serves',
        severity: 'warning',
        message: `cache "${c.name}": ${stale} stale values served against ${calls} loads: the loader is too slow or failing (${errors} errors/timeouts); check the backend or raise timeouts.soft`,
        evidence: { staleServes: stale, loaderCalls: calls, loaderErrors: errors },
      })
    }
  }
  return out
}

/** A breaker that opened several times since the last evaluation is flapping. */
export const breakerFlappingRule: RecommendationRule = ({ snapshot, previous }) => {
  const out: Recommendation[] = []
  for (const c of snapshot.components) {
    if (c.kind !== 'circuit-breaker') continue
    const opens = num(c.stats.opens)
    const before = num(previous.get(`${c.kind}:${c.name}`)?.opens)
    if (opens - before >= 3) {
      out.push({
        id: 'breaker-flapping',
        severity: 'warning',
        message: `circuit "${c.name}" opened ${opens - before} times since the last check: the dependency is unstable; lengthen halfOpenAfter (or use a backoff) and look at its health`,
        evidence: { opensSinceLastCheck: opens - before, state: String(c.stats.state) },
      })
    }
  }
  return out
}

/** High event-loop delay, with the likely cause. */
export const eventLoopRule: RecommendationRule = ({ snapshot }) => {
  // a monitor with runtime: false has no event-loop figures (regression: this rule threw on every
  // evaluation)
  const runtime = snapshot.runtime
  if (runtime === undefined) return undefined
  const el = runtime.eventLoop
  if (el.delayP99Ms < 100) return undefined
  const gc = runtime.gc
  const cause =
    gc.majorPauseMsTotal > 200
      ? `major GC pauses (${gc.majorPauseMsTotal.toFixed(0)}ms in total): reduce allocation or raise --max-old-space-size`
      : el.utilization > 0.9
        ? `the loop is busy ${pct(el.utilization)} of the time: move CPU-heavy work to worker threads or add instances`
        : 'long synchronous tasks: profile with --cpu-prof to find them'
  return {
    id: 'event-loop-delay',
    severity: el.delayP99Ms >= 500 ? 'critical' : 'warning',
    message: `event-loop delay p99 is ${el.delayP99Ms.toFixed(0)}ms; likely cause: ${cause}`,
    evidence: { delayP99Ms: el.delayP99Ms, utilization: el.utilization, majorGcMs: gc.majorPauseMsTotal },
  }
}

/** Steady heap growth across the recorded samples. */
export const heapGrowthRule: RecommendationRule = ({ heapHistory }) => {
  if (heapHistory.length < 10) return undefined
  const first = heapHistory[0] as { at: number; bytes: number }
  const last = heapHistory[heapHistory.length - 1] as { at: number; bytes: number }
  const hours = (last.at - first.at) / 3_600_000
  if (hours <= 0) return undefined
  // growth in most steps and overall growth of at least 25%: a leak, not noise
  let rising = 0
  for (let i = 1; i < heapHistory.length; i++) {
    if ((heapHistory[i] as { bytes: number }).bytes > (heapHistory[i - 1] as { bytes: number }).bytes)
      rising++
  }
  const growth = (last.bytes - first.bytes) / Math.max(1, first.bytes)
  if (growth < 0.25 || rising < (heapHistory.length - 1) * 0.7) return undefined
  const perHourMb = (last.bytes - first.bytes) / 2 ** 20 / hours
  return {
    id: 'heap-growth',
    severity: 'warning',
    message: `heap grew ${pct(growth)} over ${heapHistory.length} samples (~${perHourMb.toFixed(1)} MiB/h): look for unbounded maps, caches or listeners (take two heap snapshots and compare)`,
    evidence: { growth, fromBytes: first.bytes, toBytes: last.bytes, samples: heapHistory.length },
  }
}

/** A pool with borrowers waiting while every resource is in use. */
export const poolSaturationRule: RecommendationRule = ({ snapshot }) => {
  const out: Recommendation[] = []
  for (const c of snapshot.components) {
    if (c.kind !== 'pool') continue
    const waiting = num(c.stats.waiting)
    const inUse = num(c.stats.inUse)
    const max = num(c.stats.max)
    if (waiting > 0 && max > 0 && inUse >= max) {
      out.push({
        id: 'pool-saturation',
        severity: num(c.stats.timeouts) > 0 ? 'critical' : 'warning',
        message: `pool "${c.name}" is saturated: ${inUse}/${max} in use and ${waiting} waiting; raise max or shorten the time resources are held`,
        evidence: {
          inUse,
          max,
          waiting,
          timeouts: num(c.stats.timeouts),
          acquireMsAvg: num(c.stats.acquireMsAvg),
        },
      })
    }
  }
  return out
}

/** The built-in rules. */
export const builtInRules: readonly RecommendationRule[] = [
  cacheCapacityRule,
  staleServesRule,
  breakerFlappingRule,
  eventLoopRule,
  heapGrowthRule,
  poolSaturationRule,
]
