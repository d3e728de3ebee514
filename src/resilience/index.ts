/**
 * hotpath/resilience: retries with backoff and budgets, circuit breakers (optionally shared
 * across instances through Redis), timeouts, bulkheads, fallbacks, hedging, composition,
 * bounded batch execution, resource pools, rate limiters (memory or Redis, exact across
 * instances) and an adaptive concurrency limit with priority classes.
 */
export {
  AdaptiveLimit,
  type AdaptiveLimitCallOptions,
  type AdaptiveLimitEvents,
  type AdaptiveLimitOptions,
  type AdaptiveLimitToken,
  adaptiveLimit,
} from './adaptive-limit.js'
export {
  type Backoff,
  constantBackoff,
  decorrelatedJitterBackoff,
  type ExponentialBackoffOptions,
  exponentialBackoff,
} from './backoff.js'
export { type BatchOptions, batchExecute, type Settled } from './batch.js'
export {
  CircuitBreaker,
  type CircuitBreakerEvents,
  type CircuitBreakerOptions,
  type CircuitSnapshot,
  type CircuitState,
  circuitBreaker,
} from './breaker/circuit-breaker.js'
export type { SharedStateOptions } from './breaker/shared.js'
export { type BreakerStrategy, consecutive, countWindow, sampling } from './breaker/strategies.js'
export { type BulkheadOptions, BulkheadPolicy, bulkhead, Semaphore, semaphore } from './bulkhead.js'
export {
  AcquireTimeoutError,
  BulkheadFullError,
  CircuitOpenError,
  LimitExceededError,
  PoolCreateError,
  PoolDrainingError,
  RateLimitedError,
  RetryBudgetError,
} from './errors.js'
export { type FallbackOptions, FallbackPolicy, fallback } from './fallback.js'
export type { ErrorClass, Handle } from './handle.js'
export { type HedgeOptions, HedgePolicy, hedge } from './hedge.js'
export type { Policy, PolicyContext, Work } from './policy.js'
export { createPool, Pool, type PoolOptions } from './pool.js'
export type { Decision } from './rate-limit/algorithms.js'
export { rateLimitHeaders } from './rate-limit/headers.js'
export {
  createRateLimiter,
  isRateLimited,
  RateLimiter,
  type RateLimiterEvents,
  type RateLimiterOptions,
  rateLimited,
} from './rate-limit/limiter.js'
export { type RetryBudgetOptions, type RetryEvents, type RetryOptions, RetryPolicy, retry } from './retry.js'
export { type TimeoutEvents, type TimeoutOptions, TimeoutPolicy, timeout } from './timeout.js'
export { type ExecuteTrace, tracingChannels } from './tracing.js'
export { type Composable, WrappedPolicy, wrap } from './wrap.js'
