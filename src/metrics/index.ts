/**
 * hotpath/metrics: one monitor every part reports into — prom-client metrics with a
 * cardinality guard, measure() and timers, per-operation stats, runtime metrics (event-loop
 * delay histogram, ELU, GC, memory, CPU, handles, fds), adapters for caches and resilience
 * policies, alerts, health checks, recommendations, a JSON snapshot and Prometheus text.
 */
export type { Adapter, AdapterContext, Attachment } from './adapters.js'
export { type AlertEvent, type AlertRule, type AlertStatus, type AlertValue, readPath } from './alerts.js'
export type { BoundHistogram, BoundSeries, LiveGauge } from './bound.js'
export type { Labels } from './cardinality.js'
export {
  createEventLoopSampler,
  type EventLoopDelayStats,
  EventLoopSampler,
  type EventLoopSamplerOptions,
  type EventLoopSource,
} from './event-loop.js'
export type { CheckResult, ComponentHealth, HealthCheck, HealthReport } from './health.js'
export { createMonitor, Monitor } from './monitor.js'
export { envOptions, type MonitorOptions, type MonitorSnapshot } from './monitor-options.js'
export type { OperationStats } from './op-stats.js'
export {
  breakerFlappingRule,
  builtInRules,
  cacheCapacityRule,
  eventLoopRule,
  heapGrowthRule,
  poolSaturationRule,
  type Recommendation,
  type RecommendationContext,
  type RecommendationRule,
  staleServesRule,
} from './recommendations.js'
export {
  instrumentRedis,
  type RedisClientEvents,
  type RedisClientLike,
  RedisInstrumentation,
  type RedisInstrumentationOptions,
  type RedisMonitorLike,
} from './redis.js'
export type { RuntimeSnapshot } from './runtime.js'
