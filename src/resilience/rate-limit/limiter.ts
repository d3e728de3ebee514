/**
 * createRateLimiter(): token bucket or GCRA, in memory or in Redis, keys of any shape, cost per
 * call. With Redis, a decision that cannot be made in time (Redis slow or gone) follows
 * `onRedisError`: 'open' decides with an in-process insurance limiter of the same rate (per
 * instance), 'closed' refuses with E_RATE_LIMITED.
 */
import type { Cluster, Redis } from 'ioredis'
import { isHotpathError } from '../../errors.js'
import { Events } from '../../events.js'
import { assertKnownKeys, received } from '../../options.js'
import { type Clock, type Duration, systemClock, toMs, toTimerMs } from '../../time.js'
import type { MonitorLike } from '../../types.js'
import { RateLimitedError } from '../errors.js'
import { TimeoutPolicy } from '../timeout.js'
import type { Decision } from './algorithms.js'
import { rateLimitHeaders } from './headers.js'
import { type Algorithm, MemoryLimiterState } from './memory.js'
import { RedisLimiterState } from './redis.js'

/** Options of `createRateLimiter()`. */
export interface RateLimiterOptions {
  /** Calls (cost units) allowed per window. */
  limit: number
  /** The window. */
  window: Duration
  /** @default 'token-bucket' */
  algorithm?: Algorithm
  /** Keep the state in Redis (exact across instances). Omitted: in memory. */
  redis?: Redis | Cluster
  /** Redis key prefix; a key is `${prefix}${name}:${key}`. @default 'hp:rl:' */
  prefix?: string
  /** Longest wait for a Redis decision. @default '100ms' */
  timeout?: Duration
  /** What a Redis failure means: 'open' (insurance limiter in memory) or 'closed' (refuse). @default 'open' */
  onRedisError?: 'open' | 'closed'
  /** Most keys tracked in memory. @default 100000 */
  maxKeys?: number
  /** Name for headers, metrics, errors and the Redis keys (limiters of one name share their state). @default 'default' */
  name?: string
  clock?: Clock
  monitor?: MonitorLike
}

const KNOWN = [
  'limit',
  'window',
  'algorithm',
  'redis',
  'prefix',
  'timeout',
  'onRedisError',
  'maxKeys',
  'name',
  'clock',
  'monitor',
] as const

/** Events of a rate limiter. */
export interface RateLimiterEvents {
  rejected: { key: string; retryAfterMs: number }
  redisError: { error: unknown }
}

/** A rate limiter. */
export class RateLimiter {
  readonly kind = 'rate-limiter'
  readonly name: string
  readonly limit: number
  readonly windowMs: number
  private readonly memory: MemoryLimiterState | undefined
  private readonly remote: RedisLimiterState | undefined
  private readonly insurance: MemoryLimiterState | undefined
  private readonly failClosed: boolean
  private readonly clock: Clock
  private readonly events = new Events<RateLimiterEvents>()
  private counts = { decisions: 0, allowed: 0, rejected: 0, redisErrors: 0 }

  constructor(options: RateLimiterOptions) {
    if (options === null || typeof options !== 'object')
      throw new TypeError('createRateLimiter needs { limit, window }')
    assertKnownKeys(options, KNOWN, 'createRateLimiter options')
    const { limit } = options
    if (typeof limit !== 'number' || !Number.isFinite(limit) || limit <= 0) {
      throw new RangeError(`limit must be a positive number; received ${String(limit)}`)
    }
    this.limit = limit
    this.windowMs = toMs(options.window, 'window')
    if (this.windowMs <= 0)
      throw new RangeError(`window must be greater than 0; received ${String(options.window)}`)
    const algorithm = options.algorithm ?? 'token-bucket'
    if (algorithm !== 'token-bucket' && algorithm !== 'gcra') {
      throw new TypeError(`algorithm must be 'token-bucket' or 'gcra'; received ${String(algorithm)}`)
    }
    const maxKeys = options.maxKeys ?? 100_000
    if (!Number.isInteger(maxKeys) || maxKeys < 1)
      throw new RangeError(`maxKeys must be an integer >= 1; received ${maxKeys}`)
    const onError = options.onRedisError ?? 'open'
    if (onError !== 'open' && onError !== 'closed') {
      throw new TypeError(`onRedisError must be 'open' or 'closed'; received ${String(onError)}`)
    }
    this.failClosed = onError === 'closed'
    // both end up in Redis keys, metric labels and headers: a number or an object would be pasted
    // in as text (`[object Object]`), so they are refused (prefix even without Redis); an empty
    // one names nothing (an empty policy name in the headers, keys straight in the keyspace)
    for (const k of ['prefix', 'name'] as const) {
      const v: unknown = options[k]
      if (v !== undefined && typeof v !== 'string')
        throw new TypeError(`${k} must be a string; received ${received(v)}`)
      if (v === '') throw new RangeError(`${k} must not be empty; omit it for the default`)
    }
    this.name = options.name ?? 'default'
    this.clock = options.clock ?? systemClock
    const rate = { limit, windowMs: this.windowMs }
    // checked even without Redis, so a bad value is found where it is written
    const redisTimeout = toTimerMs(options.timeout ?? '100ms', 'createRateLimiter timeout')
    if (options.redis !== undefined) {
      if (typeof options.redis?.defineCommand !== 'function')
        throw new TypeError('redis must be an ioredis client')
      const guard = new TimeoutPolicy(redisTimeout, {
        name: `${this.name}:redis`,
        clock: this.clock,
      })
      // the name is part of each key: limiters of different names (a route's and the global one,
      // both keyed by the client) keep apart budgets on one Redis (regression: they shared one
      // bucket per key, so a strict limiter's refusals used up a loose one's budget)
      const ns = `${options.prefix ?? 'hp:rl:'}${this.name}:`
      this.remote = new RedisLimiterState(options.redis, ns, algorithm, rate, guard)
      if (!this.failClosed) this.insurance = new MemoryLimiterState(algorithm, rate, maxKeys)
    } else {
      this.memory = new MemoryLimiterState(algorithm, rate, maxKeys)
    }
    options.monitor?.attach(this)
  }

  /** Decides for `key` (any string) and `cost` (default 1). Never throws for Redis trouble. */
  consume(key: string, cost = 1): Promise<Decision> {
    const bad = checkCall(key, cost)
    if (bad !== undefined) return Promise.reject(bad)
    if (cost > this.limit) return Promise.resolve(this.count(key, this.exceeds()))
    if (this.memory !== undefined)
      return Promise.resolve(this.count(key, this.memory.consume(key, cost, this.clock.now())))
    return this.consumeRemote(key, cost)
  }

  /** Synchronous decision (memory limiters only); the same checks and answers as `consume()`. */
  consumeSync(key: string, cost = 1): Decision {
    if (this.memory === undefined)
      throw new TypeError('consumeSync() is for in-memory limiters; use consume() with Redis')
    const bad = checkCall(key, cost)
    if (bad !== undefined) throw bad
    if (cost > this.limit) return this.count(key, this.exceeds())
    return this.count(key, this.memory.consume(key, cost, this.clock.now()))
  }

  /** The answer to a cost above the limit: refused, and waiting would not help. */
  private exceeds(): Decision {
    return {
      allowed: false,
      limit: this.limit,
      remaining: 0,
      resetMs: 0,
      retryAfterMs: Number.POSITIVE_INFINITY,
      exceedsLimit: true,
    }
  }

  private async consumeRemote(key: string, cost: number): Promise<Decision> {
    const remote = this.remote as RedisLimiterState
    try {
      return this.count(key, await remote.consume(key, cost))
    } catch (error) {
      this.counts.redisErrors++
      if (this.events.has('redisError')) this.events.emit('redisError', { error })
      if (this.insurance !== undefined)
        return this.count(key, this.insurance.consume(key, cost, this.clock.now()))
      return this.count(key, {
        allowed: false,
        limit: this.limit,
        remaining: 0,
        resetMs: this.windowMs,
        retryAfterMs: 1000,
      })
    }
  }

  private count(key: string, d: Decision): Decision {
    this.counts.decisions++
    if (d.allowed) this.counts.allowed++
    else {
      this.counts.rejected++
      if (this.events.has('rejected')) this.events.emit('rejected', { key, retryAfterMs: d.retryAfterMs })
    }
    return d
  }

  /** Consumes, then runs `fn` if allowed; otherwise rejects with E_RATE_LIMITED (with retryAfter). */
  async execute<T>(key: string, fn: () => T | Promise<T>, cost = 1): Promise<T> {
    const d = await this.consume(key, cost)
    if (!d.allowed)
      throw new RateLimitedError(key, d.retryAfterMs, d.exceedsLimit === true ? cost : undefined)
    return fn()
  }

  /** Header values for a decision (RateLimit, RateLimit-Policy, Retry-After). */
  headers(decision: Decision): Record<string, string> {
    return rateLimitHeaders(decision, this.windowMs, this.name)
  }

  /** Forgets `key` (its next call starts with a full allowance). */
  async reset(key: string): Promise<void> {
    this.memory?.reset(key)
    this.insurance?.reset(key)
    await this.remote?.reset(key)
  }

  on<K extends keyof RateLimiterEvents>(event: K, listener: (payload: RateLimiterEvents[K]) => void) {
    return this.events.on(event, listener)
  }

  stats() {
    return {
      ...this.counts,
      keys: this.memory?.size ?? this.insurance?.size ?? 0,
      limit: this.limit,
      windowMs: this.windowMs,
    }
  }
}

/** Creates a rate limiter. */
export function createRateLimiter(options: RateLimiterOptions): RateLimiter {
  return new RateLimiter(options)
}

/**
 * Wraps a function so each call first takes `cost` from the limiter under `key(...args)`
 * (the seeds' `@rate_limit(max_calls, time_window)` decorator); refused calls reject with
 * E_RATE_LIMITED.
 */
export function rateLimited<A extends unknown[], T>(
  fn: (...args: A) => T | Promise<T>,
  limiter: RateLimiter,
  options: { key?: (...args: A) => string; cost?: number } = {},
): (...args: A) => Promise<T> {
  assertKnownKeys(options, ['key', 'cost'], 'rateLimited options')
  const keyOf = options.key ?? (() => 'global')
  const cost = options.cost ?? 1
  return (...args: A) => limiter.execute(keyOf(...args), () => fn(...args), cost)
}

/** The error for a bad key or cost, or undefined (shared by consume and consumeSync). */
function checkCall(key: unknown, cost: number): Error | undefined {
  if (typeof key !== 'string') return new TypeError(`key must be a string; received ${typeof key}`)
  if (typeof cost !== 'number' || !(cost > 0) || !Number.isFinite(cost))
    return new RangeError(`cost must be a positive number; received ${String(cost)}`)
  return undefined
}

/** True for a rate-limit refusal. */
export function isRateLimited(err: unknown): boolean {
  return isHotpathError(err, 'E_RATE_LIMITED')
}
