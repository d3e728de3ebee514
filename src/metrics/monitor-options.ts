/**
 * The options of `createMonitor()`, the JSON snapshot's shape, and the environment variables a
 * monitor reads where its options leave a setting open.
 */
import type { Registry } from 'prom-client'
import { type Clock, type Duration, toMs } from '../time.js'
import type { AlertRule, AlertStatus } from './alerts.js'
import type { EventLoopSampler } from './event-loop.js'
import type { HealthCheck } from './health.js'
import type { OperationStats } from './op-stats.js'
import type { RecommendationRule } from './recommendations.js'
import type { RuntimeSnapshot } from './runtime.js'

/** Options of `createMonitor()`. Environment variables apply where an option is omitted. */
export interface MonitorOptions {
  /** A prom-client registry to use. @default a new one */
  registry?: Registry
  /** Prefix of every metric name. @default 'hotpath_' */
  prefix?: string
  /**
   * Collect runtime metrics and evaluate alerts on a timer. Env: PERFORMANCE_MONITORING_ENABLED.
   * When false the monitor still records what it is given; `collect()` runs on demand.
   * @default true
   */
  enabled?: boolean
  /** Collection (and alert evaluation) interval. Env: METRICS_COLLECTION_INTERVAL (seconds, or '10s'). @default '10s' */
  collectInterval?: Duration
  /** Runtime metrics (event loop, GC, memory, CPU, handles, fds). @default true */
  runtime?: boolean
  /** Distinct label sets kept per metric; more fold into '__overflow__'. @default 1000 */
  maxSeriesPerMetric?: number
  /** Per-operation stats: samples kept per operation and operations tracked. @default { samples: 1024, maxOperations: 500 } */
  operations?: { samples?: number; maxOperations?: number }
  /** Histogram buckets (seconds) for measured operations. @default [0.001 ... 10] */
  latencyBuckets?: number[]
  /** Alert rules. */
  alerts?: AlertRule[]
  /** Health checks. */
  healthChecks?: HealthCheck[]
  /** Recommendation rules added to (or, with builtIn: false, replacing) the built-in ones. */
  recommendations?: { builtIn?: boolean; rules?: RecommendationRule[] }
  /** Where warnings go (cardinality caps, failing alert callbacks). @default process.emitWarning */
  onWarning?: (message: string) => void
  /** @default systemClock */
  clock?: Clock
  /** Environment to read (tests pass their own). @default process.env */
  env?: Record<string, string | undefined>
  /**
   * The event-loop sampler to read (share one between monitors, or hand it to load shedding via
   * `monitor.eventLoop`). @default a new one
   */
  eventLoop?: EventLoopSampler
}

/** Every key of `MonitorOptions`, for the unknown-key check. */
export const KNOWN_OPTIONS = [
  'registry',
  'prefix',
  'enabled',
  'collectInterval',
  'runtime',
  'maxSeriesPerMetric',
  'operations',
  'latencyBuckets',
  'alerts',
  'healthChecks',
  'recommendations',
  'onWarning',
  'clock',
  'env',
  'eventLoop',
]

/** The JSON snapshot (what `/api/metrics` serves). */
export interface MonitorSnapshot {
  timestamp: string
  uptimeSeconds: number
  runtime: RuntimeSnapshot | null
  operations: Record<string, OperationStats>
  components: Array<{ kind: string; name: string; stats: Record<string, unknown> }>
  alerts: AlertStatus[]
  cardinality: { droppedSeries: Record<string, number> }
}

/** Reads monitor settings from the environment where options leave them open. */
export function envOptions(
  env: Record<string, string | undefined>,
): Pick<MonitorOptions, 'enabled' | 'collectInterval'> {
  const out: Pick<MonitorOptions, 'enabled' | 'collectInterval'> = {}
  const enabled = env.PERFORMANCE_MONITORING_ENABLED
  if (enabled !== undefined && enabled !== '') {
    const v = enabled.trim().toLowerCase()
    if (['true', '1', 'yes', 'on'].includes(v)) out.enabled = true
    else if (['false', '0', 'no', 'off'].includes(v)) out.enabled = false
    else
      throw new TypeError(
        `PERFORMANCE_MONITORING_ENABLED must be true or false; received ${JSON.stringify(enabled)}`,
      )
  }
  const interval = env.METRICS_COLLECTION_INTERVAL
  if (interval !== undefined && interval !== '') {
    const seconds = Number(interval)
    out.collectInterval = Number.isFinite(seconds) ? seconds * 1000 : (interval as Duration)
    toMs(out.collectInterval, 'METRICS_COLLECTION_INTERVAL')
  }
  return out
}
