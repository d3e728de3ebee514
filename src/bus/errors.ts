/**
 * Coded errors of the bus and the batch processor. Each says what the caller can do.
 */
import { HotpathError } from '../errors.js'
import { errorMessage } from '../options.js'

/**
 * A handler error that must not be retried: the message goes straight to the dead letters.
 * Throw it (or a subclass) from a handler when retrying cannot help (bad input, a refused
 * business rule).
 */
export class NonRetryableError extends Error {
  readonly nonRetryable = true
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'NonRetryableError'
  }
}

/** True for a `NonRetryableError` (or anything carrying `nonRetryable: true`). */
export function isNonRetryable(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { nonRetryable?: unknown }).nonRetryable === true
}

/** The bounded queue behind `send` is full and the backpressure policy is 'reject'. */
export class BusFullError extends HotpathError {
  constructor(to: string, limit: number) {
    super(
      'E_BUS_FULL',
      `the queue of "${to}" is full (${limit} messages); slow down, retry later, or choose backpressure 'block' or 'shed'`,
      { statusCode: 503 },
    )
  }
}

/** A payload failed the message type's schema. */
export class BusInvalidPayloadError extends HotpathError {
  readonly issues: readonly unknown[]
  constructor(type: string, issues: readonly unknown[]) {
    super(
      'E_BUS_INVALID',
      `payload of message type "${type}" failed its schema: ${describeIssues(issues)}; fix the payload`,
      { statusCode: 400 },
    )
    this.issues = issues
  }
}

/** A request reached no handler (no consumer for the address, or none for the type). */
export class BusNoRouteError extends HotpathError {
  constructor(to: string, type: string) {
    super('E_BUS_NO_ROUTE', `no handler for message type "${type}" at "${to}"; register one with bus.on()`, {
      statusCode: 404,
    })
  }
}

/** A request's handler failed for good (the message went to the dead letters). */
export class BusHandlerError extends HotpathError {
  constructor(type: string, reason: string, cause: unknown) {
    super('E_BUS_HANDLER', `handler for "${type}" failed (${reason}): ${errorMessage(cause)}`, {
      cause,
      statusCode: 502,
    })
  }
}

/**
 * A durable transport could not do what was asked of its server (NATS unreachable, the optional
 * `nats` package missing, a stream configured differently under the same name).
 */
export class BusTransportError extends HotpathError {
  constructor(what: string, todo: string, cause?: unknown) {
    super('E_BUS_TRANSPORT', `${what}${cause === undefined ? '' : `: ${errorMessage(cause)}`}; ${todo}`, {
      cause,
      statusCode: 503,
    })
  }
}

/** The batch processor holds `maxPending` items and its policy is 'reject'. */
export class BatchFullError extends HotpathError {
  constructor(limit: number) {
    super('E_BATCH_FULL', `the batch processor holds ${limit} pending items; slow down or raise maxPending`, {
      statusCode: 503,
    })
  }
}

function describeIssues(issues: readonly unknown[]): string {
  const first = issues[0] as { message?: unknown; path?: readonly unknown[] } | undefined
  if (first === undefined) return 'no detail'
  const path = Array.isArray(first.path) && first.path.length > 0 ? `${first.path.join('.')}: ` : ''
  const more = issues.length > 1 ? ` (+${issues.length - 1} more)` : ''
  return `${path}${String(first.message)}${more}`
}
