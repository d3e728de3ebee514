/**
 * Coded errors. Every error hotpath throws at a caller is a `HotpathError` with a stable `code`
 * (never reused for another meaning), an optional `cause`, and `statusCode` where an HTTP client
 * would see it. Use `isHotpathError()` rather than `instanceof`: it survives duplicated copies
 * of the package in one process.
 */

import { errorMessage } from './options.js'

const BRAND = Symbol.for('hotpath.error')

/**
 * Stable error codes. Add new ones at the end; never change the meaning of an existing one.
 * Retired (nothing threw them; never reuse): E_L2_UNAVAILABLE, E_LOCK_TIMEOUT.
 */
export type ErrorCode =
  | 'E_INVALID_KEY'
  | 'E_SERIALIZE'
  | 'E_DESERIALIZE'
  | 'E_LOADER'
  | 'E_LOADER_TIMEOUT'
  | 'E_CLOSED'
  | 'E_ABORTED'
  | 'E_TIMEOUT'
  | 'E_CIRCUIT_OPEN'
  | 'E_RATE_LIMITED'
  | 'E_LIMIT_EXCEEDED'
  | 'E_BULKHEAD_FULL'
  | 'E_POOL_DRAINING'
  | 'E_ACQUIRE_TIMEOUT'
  | 'E_RETRY_BUDGET'
  | 'E_POOL_CREATE'
  | 'E_SCENARIO'
  | 'E_LOADTEST_REPORT'
  | 'E_BUS_FULL'
  | 'E_BUS_INVALID'
  | 'E_BUS_NO_ROUTE'
  | 'E_BUS_HANDLER'
  | 'E_BATCH_FULL'
  | 'E_DB_QUERY'
  | 'E_DB_UNCACHEABLE'
  | 'E_DB_INDEXES_MISSING'
  | 'E_BUS_TRANSPORT'
  | 'E_WS_DECODE'

/** Extra fields an error may carry. */
export interface HotpathErrorOptions {
  /** The underlying error, if any. */
  cause?: unknown
  /** HTTP status a server should answer with when this error reaches a client. */
  statusCode?: number
  /** Milliseconds after which the caller may try again (rate limits, open circuits). */
  retryAfter?: number
}

/** Base class of every coded error thrown by hotpath. */
export class HotpathError extends Error {
  readonly code: ErrorCode
  readonly statusCode: number | undefined
  readonly retryAfter: number | undefined
  readonly [BRAND] = true

  constructor(code: ErrorCode, message: string, options: HotpathErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = new.target.name
    this.code = code
    this.statusCode = options.statusCode
    this.retryAfter = options.retryAfter
  }
}

/** True when `err` is a hotpath error (optionally with the given code). */
export function isHotpathError(err: unknown, code?: ErrorCode): err is HotpathError {
  return (
    typeof err === 'object' &&
    err !== null &&
    (err as Record<symbol, unknown>)[BRAND] === true &&
    (code === undefined || (err as HotpathError).code === code)
  )
}

/** A cache key was empty, not a string, or longer than `maxKeyLength`. */
export class InvalidKeyError extends HotpathError {
  constructor(message: string) {
    super('E_INVALID_KEY', message, { statusCode: 400 })
  }
}

/** A value could not be serialized for the L2 tier (functions, symbols, circular BigInt...). */
export class SerializeError extends HotpathError {
  constructor(message: string, cause?: unknown) {
    super('E_SERIALIZE', message, { cause })
  }
}

/** A value read from L2 could not be decoded; the entry is treated as a miss. */
export class DeserializeError extends HotpathError {
  constructor(message: string, cause?: unknown) {
    super('E_DESERIALIZE', message, { cause })
  }
}

/** The loader passed to `getOrSet` threw and no stale value could be served. */
export class LoaderError extends HotpathError {
  constructor(key: string, cause: unknown) {
    super('E_LOADER', `loader for key "${key}" failed: ${errorMessage(cause)}`, { cause, statusCode: 502 })
  }
}

/** The loader exceeded its hard timeout. */
export class LoaderTimeoutError extends HotpathError {
  constructor(key: string, ms: number) {
    super(
      'E_LOADER_TIMEOUT',
      `loader for key "${key}" did not finish within the hard timeout of ${ms}ms; raise timeouts.hard or make the loader faster`,
      { statusCode: 504 },
    )
  }
}

/** The component was closed; create a new one. */
export class ClosedError extends HotpathError {
  constructor(what: string) {
    super('E_CLOSED', `${what} is closed; create a new one`)
  }
}

/** The operation was aborted through its AbortSignal. */
export class AbortedError extends HotpathError {
  constructor(reason?: unknown) {
    super('E_ABORTED', 'the operation was aborted', { cause: reason })
  }
}

/** An operation exceeded its timeout. */
export class TimeoutError extends HotpathError {
  constructor(message: string) {
    super('E_TIMEOUT', message, { statusCode: 504 })
  }
}
