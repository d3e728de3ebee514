/**
 * Options of `createCache()` and of each call: defaults and validation. The types live in
 * option-types.ts.
 */
import type { Cluster, Redis as RedisClient } from 'ioredis'
import { assertKnownKeys } from '../options.js'
import { systemClock, toMs, toTimerMs } from '../time.js'
import { wellFormed } from './keys.js'
import type {
  CacheOptions,
  RedisOptions,
  ResolvedCacheOptions,
  ResolvedPolicy,
  StandardSchema,
  TypePolicy,
} from './option-types.js'

function positiveInt(value: unknown, option: string, def: number): number {
  if (value === undefined) return def
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0 || !Number.isFinite(value)) {
    throw new RangeError(`${option} must be a positive finite integer; received ${String(value)}`)
  }
  return value
}

function nonNegative(value: unknown, option: string, def: number): number {
  if (value === undefined) return def
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new RangeError(`${option} must be a finite number >= 0; received ${String(value)}`)
  }
  return value
}

/**
 * Longest TTL (and grace, and their sum) accepted: about 317 years. Redis keeps a key's expiry
 * as milliseconds since the epoch in a signed 64-bit integer and the wire header keeps it as a
 * float64, so anything bigger could not be held exactly (regression: `ttl: 1e308` reached Redis,
 * which refused every write of it).
 */
export const MAX_TTL_MS = 1e13

function ttlOf(value: unknown, option: string, def: number): number {
  return value === undefined ? def : toMs(value, option, MAX_TTL_MS)
}

/** Timer-backed durations (timeouts, probe intervals, lock waits). */
function timerDuration(value: unknown, option: string, def: number): number {
  return value === undefined ? def : toTimerMs(value, option)
}

const POLICY_KEYS = [
  'ttl',
  'grace',
  'staleWhileRevalidate',
  'timeouts',
  'earlyRefreshBeta',
  'tags',
  'schema',
] as const
/** Keys a type policy may have. */
export const TYPE_POLICY_KEYS: readonly string[] = POLICY_KEYS
/** Keys call options may have. */
export const CALL_KEYS: readonly string[] = [...POLICY_KEYS, 'type', 'skipL2', 'signal']
/** Keys of the cache's own options: the policy's (a schema is per call or per type), then its own. */
const CACHE_KEYS: readonly string[] = [
  ...POLICY_KEYS.filter((k) => k !== 'schema'),
  'name',
  'prefix',
  'memory',
  'redis',
  'lock',
  'types',
  'maxKeyLength',
  'monitor',
  'clock',
]
const MEMORY_KEYS: readonly string[] = ['maxEntries', 'maxBytes', 'maxEntryBytes', 'sizeOf']
const REDIS_KEYS: readonly string[] = [
  'connection',
  'timeout',
  'breakerThreshold',
  'breakerProbeInterval',
  'compressAbove',
  'bus',
]
const LOCK_KEYS: readonly string[] = ['ttl', 'wait']
const TIMEOUT_KEYS: readonly string[] = ['soft', 'hard']

function tagsOf(value: unknown, option: string): readonly string[] | undefined {
  if (value === undefined) return undefined
  if (!Array.isArray(value) || value.some((t) => typeof t !== 'string' || t.length === 0 || !wellFormed(t))) {
    throw new TypeError(`${option} must be an array of non-empty strings; received ${JSON.stringify(value)}`)
  }
  return Object.freeze([...value])
}

function schemaOf(value: unknown, option: string): StandardSchema | undefined {
  if (value === undefined) return undefined
  const std = (value as { '~standard'?: { validate?: unknown } } | null)?.['~standard']
  if (typeof std?.validate !== 'function') {
    throw new TypeError(
      `${option} must be a Standard Schema (zod, valibot, arktype...); received ${typeof value}`,
    )
  }
  return value as StandardSchema
}

/** Applies `opts` over `base`, validating each field it sets. */
export function resolvePolicy(
  opts: TypePolicy & { skipL2?: boolean },
  base: ResolvedPolicy,
  where: string,
): ResolvedPolicy {
  if (opts === null || typeof opts !== 'object') {
    throw new TypeError(`${where} must be an object; received ${opts === null ? 'null' : typeof opts}`)
  }
  const timeouts = opts.timeouts
  if (timeouts !== undefined && (timeouts === null || typeof timeouts !== 'object')) {
    throw new TypeError(`${where}.timeouts must be an object; received ${String(timeouts)}`)
  }
  assertKnownKeys(timeouts, TIMEOUT_KEYS, `${where}.timeouts`)
  const ttl = ttlOf(opts.ttl, `${where}.ttl`, base.ttl)
  if (ttl === 0) throw new RangeError(`${where}.ttl must be greater than 0; received ${String(opts.ttl)}`)
  const grace = ttlOf(opts.grace, `${where}.grace`, base.grace)
  if (ttl + grace > MAX_TTL_MS) {
    throw new RangeError(
      `${where}.ttl + ${where}.grace must be at most ${MAX_TTL_MS} ms (Redis cannot hold the expiry); received ${ttl} + ${grace}`,
    )
  }
  const beta = nonNegative(opts.earlyRefreshBeta, `${where}.earlyRefreshBeta`, base.beta)
  return Object.freeze({
    ttl,
    grace,
    swr: ttlOf(opts.staleWhileRevalidate, `${where}.staleWhileRevalidate`, base.swr),
    softTimeout: timerDuration(timeouts?.soft, `${where}.timeouts.soft`, base.softTimeout),
    hardTimeout: timerDuration(timeouts?.hard, `${where}.timeouts.hard`, base.hardTimeout),
    beta,
    tags: opts.tags === undefined ? base.tags : tagsOf(opts.tags, `${where}.tags`),
    schema: opts.schema === undefined ? base.schema : schemaOf(opts.schema, `${where}.schema`),
    skipL2: opts.skipL2 === undefined ? base.skipL2 : Boolean(opts.skipL2),
  })
}

const ROOT_POLICY: ResolvedPolicy = Object.freeze({
  ttl: 300_000,
  grace: 0,
  swr: 0,
  softTimeout: 0,
  hardTimeout: 0,
  beta: 1,
  tags: undefined,
  schema: undefined,
  skipL2: false,
})

function isCluster(value: unknown): value is Cluster {
  return isClient(value) && typeof (value as { nodes?: unknown }).nodes === 'function'
}

function isClient(value: unknown): value is RedisClient | Cluster {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { getBuffer?: unknown }).getBuffer === 'function'
  )
}

/** Applies defaults to `createCache()` options and validates them. */
export function resolveCacheOptions(options: CacheOptions = {}): ResolvedCacheOptions {
  if (options === null || typeof options !== 'object') {
    throw new TypeError(
      `createCache options must be an object; received ${options === null ? 'null' : typeof options}`,
    )
  }
  assertKnownKeys(options, CACHE_KEYS, 'createCache options')
  const name = options.name ?? 'cache'
  if (typeof name !== 'string' || name.length === 0) {
    throw new TypeError(`name must be a non-empty string; received ${String(name)}`)
  }
  const prefix = options.prefix ?? 'hp:'
  if (typeof prefix !== 'string') throw new TypeError(`prefix must be a string; received ${typeof prefix}`)

  let memory: ResolvedCacheOptions['memory']
  if (options.memory === false) memory = false
  else {
    const m = options.memory ?? {}
    if (typeof m !== 'object' || m === null) {
      throw new TypeError(`memory must be an object or false; received ${String(m)}`)
    }
    assertKnownKeys(m, MEMORY_KEYS, 'createCache options.memory')
    const maxEntries = positiveInt(m.maxEntries, 'memory.maxEntries', 10_000)
    if (maxEntries > 2 ** 26) {
      throw new RangeError(`memory.maxEntries must be at most ${2 ** 26}; received ${maxEntries}`)
    }
    const maxBytes = positiveInt(m.maxBytes, 'memory.maxBytes', 64 * 1024 * 1024)
    const maxEntryBytes = positiveInt(m.maxEntryBytes, 'memory.maxEntryBytes', maxBytes)
    if (maxEntryBytes > maxBytes) {
      throw new RangeError(
        `memory.maxEntryBytes (${maxEntryBytes}) must not exceed memory.maxBytes (${maxBytes})`,
      )
    }
    if (m.sizeOf !== undefined && typeof m.sizeOf !== 'function') {
      throw new TypeError(`memory.sizeOf must be a function; received ${typeof m.sizeOf}`)
    }
    memory = Object.freeze({ maxEntries, maxBytes, maxEntryBytes, sizeOf: m.sizeOf })
  }

  let redis: ResolvedCacheOptions['redis']
  if (options.redis !== undefined) {
    const r: RedisOptions =
      typeof options.redis === 'string' || isClient(options.redis)
        ? { connection: options.redis as string | RedisClient | Cluster }
        : (options.redis as RedisOptions)
    if (typeof r !== 'object' || r === null) throw new TypeError(`redis must be a URL, a client or an object`)
    assertKnownKeys(r, REDIS_KEYS, 'createCache options.redis')
    if (typeof r.connection !== 'string' && !isClient(r.connection)) {
      throw new TypeError(
        `redis.connection must be a redis:// URL or an ioredis client; received ${typeof r.connection}`,
      )
    }
    if (typeof r.connection === 'string' && !/^rediss?:\/\//.test(r.connection)) {
      throw new TypeError(
        `redis.connection must start with redis:// or rediss://; received ${JSON.stringify(r.connection)}`,
      )
    }
    if (isCluster(r.connection) && !/\{[^}]+\}/.test(prefix)) {
      throw new TypeError(
        `with a Redis Cluster the prefix must contain a hash tag so tag scripts and MGET stay in one slot, e.g. prefix: '{${prefix.replace(/:$/, '') || 'hp'}}:'; received ${JSON.stringify(prefix)}`,
      )
    }
    const timeout = timerDuration(r.timeout, 'redis.timeout', 200)
    if (timeout === 0) throw new RangeError('redis.timeout must be greater than 0; received 0')
    redis = Object.freeze({
      connection: r.connection,
      timeout,
      breakerThreshold: positiveInt(r.breakerThreshold, 'redis.breakerThreshold', 1),
      breakerProbeInterval: timerDuration(r.breakerProbeInterval, 'redis.breakerProbeInterval', 500),
      compressAbove: nonNegative(r.compressAbove, 'redis.compressAbove', 4096),
      bus: r.bus === undefined ? true : Boolean(r.bus),
    })
  }
  if (memory === false && redis === undefined) {
    throw new TypeError('a cache needs at least one tier: memory is false and no redis was given')
  }

  let lock: ResolvedCacheOptions['lock']
  if (options.lock !== undefined && options.lock !== false) {
    if (redis === undefined) throw new TypeError('lock needs redis: the cross-instance lock lives in Redis')
    const l = options.lock === true ? {} : options.lock
    assertKnownKeys(l, LOCK_KEYS, 'createCache options.lock')
    lock = Object.freeze({
      ttl: ttlOf(l.ttl, 'lock.ttl', 10_000),
      wait: timerDuration(l.wait, 'lock.wait', 5_000),
    })
  }

  const policy = resolvePolicy(options, ROOT_POLICY, 'options')
  const types = new Map<string, ResolvedPolicy>()
  if (options.types !== undefined) {
    if (typeof options.types !== 'object' || options.types === null) {
      throw new TypeError(`types must be an object of policies; received ${String(options.types)}`)
    }
    for (const [typeName, p] of Object.entries(options.types)) {
      assertKnownKeys(p, TYPE_POLICY_KEYS, `types.${typeName}`)
      types.set(typeName, resolvePolicy(p, policy, `types.${typeName}`))
    }
  }
  const clock = options.clock ?? systemClock
  if (
    typeof clock?.now !== 'function' ||
    typeof clock.setTimeout !== 'function' ||
    typeof clock.setBackgroundTimeout !== 'function' ||
    typeof clock.clearTimeout !== 'function'
  ) {
    throw new TypeError('clock must implement now(), setTimeout(), setBackgroundTimeout() and clearTimeout()')
  }
  if (options.monitor !== undefined && typeof options.monitor?.attach !== 'function') {
    throw new TypeError('monitor must have an attach(source) method (see hotpath/metrics createMonitor)')
  }
  return Object.freeze({
    name,
    prefix,
    memory,
    redis,
    lock,
    policy,
    types,
    maxKeyLength: positiveInt(options.maxKeyLength, 'maxKeyLength', 1024),
    monitor: options.monitor,
    clock,
  })
}
