/**
 * hotpath/fastify: one Fastify 5 plugin with features that switch on separately — response
 * cache, compression, rate limits, load shedding, request metrics, a `{ data, meta }` envelope
 * and the operational endpoints (opt-in). Routes set theirs under one namespaced key,
 * `config.hotpath` (`cache`, `rateLimit`, `shed`, `priority`, `envelope`), resolved once when the
 * route is registered; each route gets only the hooks it needs.
 */

import type { FastifyInstance, FastifyPluginAsync } from 'fastify'
import fp from 'fastify-plugin'
import { type Cache, createCache } from '../cache/index.js'
import type { Monitor } from '../metrics/index.js'
import { assertKnownKeys } from '../options.js'
import { type CompressionOptions, Compressor } from './compression.js'
import { type EndpointOptions, registerEndpoints } from './endpoints.js'
import { routerUrlOptions } from './http.js'
import type { HotpathRequestState } from './request-state.js'
import {
  ResponseCache,
  type ResponseCacheOptions,
  type RouteCacheConfig,
  type RouteCacheStats,
} from './response-cache/index.js'
import type { HotpathRouteConfig, RouteRateLimit } from './route-config.js'
import { RouteHooks } from './route-hooks.js'
import { Shedder, type SheddingOptions } from './shedding.js'

/** Options of the plugin. */
export interface HotpathFastifyOptions {
  /** The hotpath cache behind the response cache. @default a memory-only cache (10,000 entries, 64 MiB) */
  cache?: Cache
  /** The monitor for request metrics and the endpoints. */
  monitor?: Monitor
  /** Response cache. @default off (on when `routes` are given or routes set config.hotpath.cache) */
  responseCache?: false | ResponseCacheOptions
  /** Compression of uncached responses (cached ones are stored compressed). @default on, threshold 1024 */
  compression?: false | CompressionOptions
  /** A rate limit applied to every route that has no `config.hotpath.rateLimit` of its own. @default none */
  rateLimit?: RouteRateLimit
  /** Load shedding. @default off */
  shedding?: false | SheddingOptions
  /** Per-route request metrics into the monitor. @default true when a monitor is given */
  requestMetrics?: boolean
  /** Operational endpoints (health, metrics, cache stats, invalidation). @default off: pass `{}` to mount them */
  endpoints?: false | EndpointOptions
}

const KNOWN: readonly (keyof HotpathFastifyOptions)[] = [
  'cache',
  'monitor',
  'responseCache',
  'compression',
  'rateLimit',
  'shedding',
  'requestMetrics',
  'endpoints',
]

declare module 'fastify' {
  interface FastifyContextConfig {
    /** hotpath's settings for this route (one namespaced key: no clash with other plugins' config). */
    hotpath?: HotpathRouteConfig
  }
  interface FastifyRequest {
    /** hotpath's per-request state (null until its onRequest hook runs on a route it handles). */
    hotpath: HotpathRequestState | null
  }
  interface FastifyInstance {
    /** The hotpath layer's handles (response cache, cache, monitor). */
    hotpath: {
      cache: Cache
      responseCache: ResponseCache | undefined
      monitor: Monitor | undefined
      /** Drops cached responses by tag and by URL path, on every instance. */
      invalidate(input: { tags?: string[]; urls?: string[] }): Promise<void>
      /** Per-route response-cache stats (keyed by route pattern). */
      cacheStats(): Record<string, RouteCacheStats>
    }
  }
}

const plugin: FastifyPluginAsync<HotpathFastifyOptions> = async (app: FastifyInstance, options) => {
  assertKnownKeys(options, KNOWN, 'hotpath fastify options')
  if (options.requestMetrics !== undefined && typeof options.requestMetrics !== 'boolean') {
    throw new TypeError(`requestMetrics must be a boolean; received ${String(options.requestMetrics)}`)
  }
  const monitor = options.monitor
  // the plugin's own cache reports into the monitor like any other (its lookups, entries, bytes)
  const cache =
    options.cache ??
    createCache({
      name: 'http',
      memory: { maxEntries: 10_000, maxBytes: 64 * 1024 * 1024 },
      ...(monitor === undefined ? {} : { monitor }),
    })
  const ownsCache = options.cache === undefined
  const rc =
    options.responseCache === false ? undefined : new ResponseCache(cache, options.responseCache ?? {})
  if (rc !== undefined) rc.bind(app, routerUrlOptions(app.initialConfig))
  const compressor = options.compression === false ? undefined : new Compressor(options.compression ?? {})
  const shedder = options.shedding ? new Shedder(options.shedding, [], monitor?.eventLoop) : undefined
  shedder?.start()

  const hooks = new RouteHooks({
    rc,
    compressor,
    shedder,
    monitor: options.requestMetrics === false ? undefined : monitor,
    limiterMonitor: monitor,
    globalLimit: options.rateLimit,
  })

  app.decorateRequest('hotpath', null)
  app.decorate('hotpath', {
    cache,
    responseCache: rc,
    monitor,
    async invalidate(input: { tags?: string[]; urls?: string[] }) {
      if (rc === undefined) return
      await rc.invalidateTags(input.tags ?? [])
      for (const u of input.urls ?? []) await rc.invalidateUrl(u)
    },
    cacheStats: () => rc?.snapshot() ?? {},
  })

  // each route's config.hotpath is read once, here; the route gets only the hooks it needs
  app.addHook('onRoute', (route) => hooks.attach(route))

  if (options.endpoints !== undefined && options.endpoints !== false) {
    registerEndpoints(app, options.endpoints, { monitor, rc, cache })
  }

  app.addHook('onClose', async () => {
    shedder?.stop()
    if (ownsCache) await cache.close()
  })
}

/** The hotpath Fastify plugin. */
const hotpath = fp(plugin, { fastify: '5.x', name: 'hotpath' })
export default hotpath
export { HotpathRequestState, type Outcome } from './request-state.js'
export {
  type LookupOutcome,
  ResponseCache,
  type ResponseCacheTrace,
  tracingChannels,
} from './response-cache/index.js'
export type {
  CompressionOptions,
  EndpointOptions,
  HotpathRouteConfig,
  ResponseCacheOptions,
  RouteCacheConfig,
  RouteCacheStats,
  RouteRateLimit,
  SheddingOptions,
}
export { hotpath }
