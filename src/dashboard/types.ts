/**
 * What the dashboard sends: one frame per tick and per instance (figures of that tick, deltas
 * where a figure is a count, so frames from several instances add up by plain sums), alert
 * transitions, recommendations, and the description of the extra panels.
 */

/** Figures of one route (or of all routes) during one tick. */
export interface RouteFigures {
  /** Requests finished in the tick. */
  n: number
  /** Requests per status class ('2xx', '4xx', '5xx', ...). */
  status: Record<string, number>
  /** Latency percentiles in ms, from the histogram buckets (0 when no request finished). */
  p50: number
  p95: number
  p99: number
  /** Requests per histogram bucket (not cumulative; the bounds are in the hello event). */
  b: number[]
}

/** One tick of one instance (or of the aggregate, `instance: '*'`). */
export interface Frame {
  /** Sequence number of the tick on the instance that built it. */
  seq: number
  /** End of the tick, ms since the epoch. */
  t: number
  /** Length of the tick in seconds (counts divided by it are rates). */
  dt: number
  /** Instance id ('*' for the aggregate). */
  instance: string
  http: RouteFigures & {
    /** Requests finished since the monitor started (cumulative, for cross-checks with /metrics). */
    total: number
    /** Requests in flight at the end of the tick. */
    inflight: number
    /** Busiest routes, keyed 'METHOD /pattern'. */
    routes: Record<string, RouteFigures>
  }
  /** Event loop: worst and mean delay (ms) in the tick, utilization 0..1. */
  loop: { maxMs: number; meanMs: number; elu: number }
  /** Memory in bytes at the end of the tick. */
  mem: { heapUsed: number; heapTotal: number; rss: number }
  /** Garbage collection in the tick: pauses and their total ms. */
  gc: { n: number; ms: number }
  /** Cache lookups in the tick, keyed 'cache/tier' (the HTTP response cache is a cache too). */
  cache: Record<string, { hits: number; misses: number }>
  /** Requests refused by load shedding in the tick. */
  shed: number
  /** Calls refused by rate limiters in the tick. */
  rateLimited: number
  /** Extra panels: panel id -> series name -> value. */
  panels: Record<string, Record<string, number>>
  /** Figures streamed in from outside (a load tester), keyed by source. */
  ext: Record<string, Record<string, number>>
}

/** An alert that fired or resolved. */
export interface AlertTransition {
  name: string
  state: 'firing' | 'resolved'
  severity: 'info' | 'warning' | 'critical'
  value: number | undefined
  at: number
  instance: string
}

/** How the page should draw an extra panel. */
export interface PanelInfo {
  id: string
  title: string
  unit: string
}

/** How the page should draw a table. */
export interface TableInfo {
  id: string
  title: string
  columns: string[]
}

/** The rows of one table on one instance, as last sampled. */
export interface InstanceTable {
  id: string
  instance: string
  at: number
  rows: Array<Record<string, string | number>>
}
