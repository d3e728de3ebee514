/**
 * Coded rejections of the resilience policies. Each says what the caller can do and, where it
 * applies, after how long (`retryAfter`, ms).
 */
import { HotpathError } from '../errors.js'

/** The circuit is open (or half-open with its trial calls in flight): the call was not made. */
export class CircuitOpenError extends HotpathError {
  constructor(name: string, retryAfter: number) {
    super(
      'E_CIRCUIT_OPEN',
      `circuit "${name}" is open; the call was not made. Retry after ${Math.ceil(retryAfter)}ms or serve a fallback`,
      { statusCode: 503, retryAfter },
    )
  }
}

/**
 * A rate limit refused the call. With `cost` (a cost above the limit) it can never pass:
 * `retryAfter` is undefined and the message says so.
 */
export class RateLimitedError extends HotpathError {
  constructor(key: string, retryAfter: number, cost?: number) {
    super(
      'E_RATE_LIMITED',
      cost === undefined
        ? `rate limit exceeded for "${key}"; retry after ${Math.ceil(retryAfter)}ms`
        : `rate limit for "${key}": a cost of ${cost} is above the limit, so this call can never be allowed; lower the cost or raise the limit`,
      { statusCode: 429, retryAfter: cost === undefined ? retryAfter : undefined },
    )
  }
}

/** The adaptive concurrency limit is reached for the call's priority class. */
export class LimitExceededError extends HotpathError {
  constructor(name: string, priority: string, limit: number, retryAfter: number) {
    super(
      'E_LIMIT_EXCEEDED',
      `concurrency limit of "${name}" reached for priority "${priority}" (limit ${limit}); shed the request or retry after ${Math.ceil(retryAfter)}ms`,
      { statusCode: 503, retryAfter },
    )
  }
}

/** The bulkhead's slots and queue are full. */
export class BulkheadFullError extends HotpathError {
  constructor(name: string, limit: number, queue: number) {
    super(
      'E_BULKHEAD_FULL',
      `bulkhead "${name}" is full (${limit} running, ${queue} queued); shed the request or raise the limit`,
      { statusCode: 503 },
    )
  }
}

/** A pool could not lend a resource in time. */
export class AcquireTimeoutError extends HotpathError {
  /** `advice` replaces the default "raise max or acquireTimeout" (a pool of one, for example). */
  constructor(name: string, ms: number, advice = 'raise max or acquireTimeout') {
    super('E_ACQUIRE_TIMEOUT', `pool "${name}" had no resource free within ${ms}ms; ${advice}`, {
      statusCode: 503,
    })
  }
}

/** A pool could not make a resource: create() failed (`cause`), and it backs off before the next try. */
export class PoolCreateError extends HotpathError {
  constructor(name: string, failures: number, cause: unknown) {
    super(
      'E_POOL_CREATE',
      `pool "${name}" could not create a resource (${failures} failure${failures === 1 ? '' : 's'} in a row); the create() error is the cause`,
      { statusCode: 503, cause },
    )
  }
}

/** The pool is draining or drained and lends nothing. */
export class PoolDrainingError extends HotpathError {
  constructor(name: string) {
    super('E_POOL_DRAINING', `pool "${name}" is draining; create a new pool`, { statusCode: 503 })
  }
}

/** A retry was skipped because the retry budget is spent; `cause` holds the last error. */
export class RetryBudgetError extends HotpathError {
  constructor(name: string, cause: unknown) {
    super('E_RETRY_BUDGET', `retry budget of "${name}" is exhausted; the last error is the cause`, { cause })
  }
}
