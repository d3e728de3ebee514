/**
 * Per-route settings, all under one namespaced key, `config.hotpath`, so they can never collide
 * with another plugin's route config (@fastify/rate-limit reads `config.rateLimit`). Resolved
 * once, when the route is registered (onRoute).
 */
import type { FastifyRequest } from 'fastify'
import { assertKnownKeys } from '../options.js'
import type { RateLimiterOptions } from '../resilience/index.js'
import type { Duration } from '../time.js'
import type { RouteCacheConfig } from './response-cache/index.js'

/** Per-route rate limit. */
export type RouteRateLimit = Omit<RateLimiterOptions, 'monitor' | 'clock'> & {
  /** The key of a request (after authentication). @default the client IP */
  key?: (request: FastifyRequest) => string
}

/** The hotpath settings of one route: `config: { hotpath: { ... } }`. */
export interface HotpathRouteConfig {
  /** Response cache for this route: a TTL, settings, or false to never cache it. */
  cache?: Duration | RouteCacheConfig | false
  /** Rate limit for this route, or false to exempt it from the global one. */
  rateLimit?: RouteRateLimit | false
  /** false: never shed this route. */
  shed?: boolean
  /** Priority class under the shedding adaptive limit. @default its first class */
  priority?: string
  /** Wrap JSON responses as { data, meta }. */
  envelope?: boolean
  /** false: leave this route out of the request metrics (long-lived streams such as SSE). */
  metrics?: boolean
}

const KNOWN: readonly (keyof HotpathRouteConfig)[] = [
  'cache',
  'rateLimit',
  'shed',
  'priority',
  'envelope',
  'metrics',
]

/** Reads and checks a route's `config.hotpath` (unknown keys are refused, naming the route). */
export function readRouteConfig(config: unknown, where: string): HotpathRouteConfig {
  if (config === undefined || config === null) return {}
  if (typeof config !== 'object') {
    throw new TypeError(`${where}: config.hotpath must be an object; received ${typeof config}`)
  }
  assertKnownKeys(config, KNOWN, `${where} config.hotpath`)
  const c = config as HotpathRouteConfig
  if (c.shed !== undefined && typeof c.shed !== 'boolean')
    throw new TypeError(`${where} config.hotpath.shed must be a boolean; received ${String(c.shed)}`)
  if (c.envelope !== undefined && typeof c.envelope !== 'boolean')
    throw new TypeError(`${where} config.hotpath.envelope must be a boolean; received ${String(c.envelope)}`)
  if (c.metrics !== undefined && typeof c.metrics !== 'boolean')
    throw new TypeError(`${where} config.hotpath.metrics must be a boolean; received ${String(c.metrics)}`)
  if (c.priority !== undefined && typeof c.priority !== 'string')
    throw new TypeError(`${where} config.hotpath.priority must be a string; received ${String(c.priority)}`)
  return c
}
