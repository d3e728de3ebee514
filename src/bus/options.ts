/**
 * Options of `createBus()`, `bus.on()` and `bus.onBatch()`: the types with their defaults, and
 * the resolvers that validate (naming the option and the value), refuse unknown keys with the
 * closest name, and freeze.
 */
import { assertKnownKeys } from '../options.js'
import {
  type Backoff,
  CircuitBreaker,
  type CircuitBreakerOptions,
  circuitBreaker,
  exponentialBackoff,
  type RateLimiter,
} from '../resilience/index.js'
import { type Clock, type Duration, systemClock, toMs, toTimerMs } from '../time.js'
import type { MonitorLike } from '../types.js'
import { positiveInt } from './batch-options.js'
import { checkBackpressure } from './envelope.js'
import { type Backpressure, PRIORITIES, type Priority, type Transport } from './types.js'

/** A Standard Schema (zod, valibot, arktype...): only the part the bus uses. */
export interface StandardSchema<T = unknown> {
  readonly '~standard': {
    readonly version: 1
    readonly vendor: string
    readonly validate: (
      value: unknown,
    ) =>
      | { readonly value: T; readonly issues?: undefined }
      | { readonly issues: ReadonlyArray<unknown> }
      | Promise<
          { readonly value: T; readonly issues?: undefined } | { readonly issues: ReadonlyArray<unknown> }
        >
  }
}

/** Retries of failed handlers. */
export interface BusRetryOptions {
  /** Deliveries in all, the first included; then the message is dead-lettered. @default 5 */
  attempts?: number
  /** Delay before each retry. @default exponentialBackoff({ initial: 100, max: 30000 }) (full jitter) */
  backoff?: Backoff
}

/** Options of `createBus()`. */
export interface BusOptions {
  /** This bus's address: what others `send` to. Buses sharing a name share its messages. @default 'bus' */
  name?: string
  /** Where messages travel. @default a memory transport shared by every bus of the process */
  transport?: Transport
  /** Handlers running at once (the worker pool). @default 100 */
  concurrency?: number
  /** Weights of urgent/high/normal/low in the weighted round robin. @default { urgent: 8, high: 4, normal: 2, low: 1 } */
  weights?: Partial<Record<Priority, number>>
  /** A queued message that waited this long goes next (oldest first): the ageing bound. @default '1s' */
  ageAfter?: Duration
  /** Messages queued in this bus (the bounded in-memory queue). @default 100000 */
  maxQueued?: number
  /** What `send` does when the receiver's queue is full: wait, shed the lowest class, or throw E_BUS_FULL. @default 'block' */
  backpressure?: Backpressure
  /** Handler retries (a handler's own `retry` overrides). @default { attempts: 5, backoff: exponential 100ms..30s } */
  retry?: BusRetryOptions
  /** Default per-message handler timeout (none: handlers may run as long as they like). @default undefined */
  timeout?: Duration
  /** Default timeout of `request`. @default '5s' */
  requestTimeout?: Duration
  /** How long a producer dedup key refuses duplicates. @default '2m' */
  dedupWindow?: Duration
  /** How long the consumer processed-set remembers a handled message. @default '1h' */
  processedWindow?: Duration
  /** Schemas checked at `send` (producer side), by message type. @default {} */
  schemas?: Record<string, StandardSchema>
  /** Monitor to report into. */
  monitor?: MonitorLike
  /** @default systemClock */
  clock?: Clock
}

/** Options of `bus.on()`. */
export interface HandlerOptions {
  /** Validates the payload before the handler; a failing message is dead-lettered ('invalid'). */
  schema?: StandardSchema
  /** Handler timeout per message (overrides the bus's). @default the bus's timeout */
  timeout?: Duration
  /** Retries (overrides the bus's). @default the bus's retry */
  retry?: BusRetryOptions
  /** A circuit breaker for this handler: while open, messages wait (delayed), they do not fail. */
  breaker?: CircuitBreaker | CircuitBreakerOptions
  /** A rate limiter (key: the message type): a refused message waits `retryAfter`, then runs. */
  rateLimit?: RateLimiter
  /** Consumer-side idempotency: skip a message whose dedup key (or id) was already handled. @default false */
  idempotent?: boolean
}

/** Options of `bus.onBatch()`. */
export interface BatchHandlerOptions extends Omit<HandlerOptions, 'timeout'> {
  /** Messages that flush a batch. @default 100 */
  maxSize?: number
  /** Longest a message waits for its batch. @default '100ms' */
  maxWait?: Duration
  /** Payload bytes (JSON length) that flush a batch. @default Infinity */
  maxBytes?: number
  /** Batches handled at once. @default 1 */
  concurrency?: number
}

const BUS_KEYS = [
  'name',
  'transport',
  'concurrency',
  'weights',
  'ageAfter',
  'maxQueued',
  'backpressure',
  'retry',
  'timeout',
  'requestTimeout',
  'dedupWindow',
  'processedWindow',
  'schemas',
  'monitor',
  'clock',
] as const

const HANDLER_KEYS = ['schema', 'timeout', 'retry', 'breaker', 'rateLimit', 'idempotent'] as const
const BATCH_KEYS = [
  'schema',
  'retry',
  'breaker',
  'rateLimit',
  'idempotent',
  'maxSize',
  'maxWait',
  'maxBytes',
  'concurrency',
] as const

/** Resolved retry: attempts and a backoff. */
export interface ResolvedRetry {
  attempts: number
  backoff: Backoff
}

function resolveRetry(
  r: BusRetryOptions | undefined,
  where: string,
  fallback?: ResolvedRetry,
): ResolvedRetry {
  if (r === undefined && fallback !== undefined) return fallback
  assertKnownKeys(r, ['attempts', 'backoff'], `${where} retry`)
  const backoff = r?.backoff ?? exponentialBackoff({ initial: 100, max: 30_000 })
  if (typeof backoff?.next !== 'function') {
    throw new TypeError(`${where} retry.backoff must be a Backoff (exponentialBackoff(), constantBackoff())`)
  }
  return Object.freeze({ attempts: positiveInt(r?.attempts ?? 5, `${where} retry.attempts`), backoff })
}

function isSchema(v: unknown): v is StandardSchema {
  const std = (v as { '~standard'?: { validate?: unknown } } | null)?.['~standard']
  return typeof std?.validate === 'function'
}

/** Validates and freezes the options of `createBus`. */
export function resolveBusOptions(o: BusOptions) {
  assertKnownKeys(o, BUS_KEYS, 'createBus options')
  const name = o.name ?? 'bus'
  if (typeof name !== 'string' || name.length === 0 || /[\s*>]/.test(name)) {
    throw new TypeError(
      `name must be a non-empty string without spaces, '*' or '>'; received ${JSON.stringify(name)}`,
    )
  }
  assertKnownKeys(o.weights, PRIORITIES, 'createBus weights')
  const defaults: Record<Priority, number> = { urgent: 8, high: 4, normal: 2, low: 1 }
  const weights = PRIORITIES.map((p) => positiveInt(o.weights?.[p] ?? defaults[p], `weights.${p}`))
  const backpressure = checkBackpressure(o.backpressure ?? 'block')
  const schemas = o.schemas ?? {}
  for (const [type, s] of Object.entries(schemas)) {
    if (!isSchema(s))
      throw new TypeError(`schemas.${type} must be a Standard Schema (zod, valibot, arktype...)`)
  }
  return Object.freeze({
    name,
    transport: o.transport,
    concurrency: positiveInt(o.concurrency ?? 100, 'concurrency'),
    weights: Object.freeze(weights),
    ageAfter: toTimerMs(o.ageAfter ?? '1s', 'ageAfter'),
    maxQueued: positiveInt(o.maxQueued ?? 100_000, 'maxQueued'),
    backpressure,
    retry: resolveRetry(o.retry, 'createBus'),
    timeout: o.timeout === undefined ? undefined : toTimerMs(o.timeout, 'timeout'),
    requestTimeout: toTimerMs(o.requestTimeout ?? '5s', 'requestTimeout'),
    dedupWindow: toMs(o.dedupWindow ?? '2m', 'dedupWindow'),
    processedWindow: toMs(o.processedWindow ?? '1h', 'processedWindow'),
    schemas: Object.freeze({ ...schemas }),
    monitor: o.monitor,
    clock: o.clock ?? systemClock,
  })
}

/** Resolved bus options. */
export type ResolvedBusOptions = ReturnType<typeof resolveBusOptions>

/** A handler's resolved options. */
export interface ResolvedHandlerOptions {
  schema: StandardSchema | undefined
  timeout: number | undefined
  retry: ResolvedRetry
  breaker: CircuitBreaker | undefined
  rateLimit: RateLimiter | undefined
  idempotent: boolean
}

/** Validates the options of `on` (and the shared part of `onBatch`). */
export function resolveHandlerOptions(
  type: string,
  o: HandlerOptions | BatchHandlerOptions,
  bus: ResolvedBusOptions,
  batch = false,
): ResolvedHandlerOptions {
  const where = `${batch ? 'onBatch' : 'on'}("${type}") options`
  assertKnownKeys(o, batch ? BATCH_KEYS : HANDLER_KEYS, where)
  if (o.schema !== undefined && !isSchema(o.schema)) {
    throw new TypeError(`${where}: schema must be a Standard Schema (zod, valibot, arktype...)`)
  }
  let breaker: CircuitBreaker | undefined
  if (o.breaker instanceof CircuitBreaker) breaker = o.breaker
  else if (o.breaker !== undefined)
    breaker = circuitBreaker({ name: `bus:${type}`, clock: bus.clock, ...o.breaker })
  const rl = o.rateLimit
  if (rl !== undefined && typeof (rl as RateLimiter).consumeSync !== 'function') {
    throw new TypeError(`${where}: rateLimit must be a limiter from createRateLimiter() (in memory)`)
  }
  const timeout = (o as HandlerOptions).timeout
  return {
    schema: o.schema,
    timeout: timeout === undefined ? bus.timeout : toTimerMs(timeout, `${where}: timeout`),
    retry: resolveRetry(o.retry, where, bus.retry),
    breaker,
    rateLimit: rl,
    idempotent: o.idempotent === true,
  }
}
