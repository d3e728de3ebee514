/**
 * hotpath/fastify: one Fastify 5 plugin with features that switch on separately — response
 * cache, compression, rate limits, load shedding, request metrics, a `{ data, meta }` envelope
 * and the operational endpoints. Routes override through `config` (`cache`, `rateLimit`,
 * `shed`, `envelope`).
 */

import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { type Cache, createCache } from '../cache/index.js'
import { isHotpathError } from '../errors.js'
import type { Monitor } from '../metrics/index.js'
import {
  type AdaptiveLimitToken,
  createRateLimiter,
  type RateLimiter,
  type RateLimiterOptions,
} from '../resilience/index.js'
import type { Duration } from '../time.js'
import { type CompressionOptions, Compressor } from './compression.js'
import { type EndpointOptions, registerEndpoints } from './endpoints.js'
import {
  ResponseCache,
  type ResponseCacheOptions,
  type RouteCacheConfig,
  type RouteCacheStats,
  SERVED_FLAG,
} from './response-cache.js'
import { routeConfig } from './route.js'
import { Shedder, type SheddingOptions } from './shedding.js'

/** Per-route rate limit. */
export type RouteRateLimit = Omit<RateLimiterOptions, 'monitor' | 'clock'> & {
  /** The key of a request (after authentication). @default the client IP */
  key?: (request: FastifyRequest) => string
}

/** Options of the plugin. */
export interface HotpathFastifyOptions {
  /** The hotpath cache behind the response cache. @default a memory-only cache (10,000 entries, 64 MiB) */
  cache?: Cache
  /** The monitor for request metrics and the endpoints. */
  monitor?: Monitor
  /** Response cache. @default off (on when `routes` are given or routes set config.cache) */
  responseCache?: false | ResponseCacheOptions
  /** Compression of uncached responses (cached ones are stored compressed). @default on, threshold 1024 */
  compression?: false | CompressionOptions
  /** A rate limit applied to every route that has no `config.rateLimit` of its own. @default none */
  rateLimit?: RouteRateLimit
  /** Load shedding. @default off */
  shedding?: false | SheddingOptions
  /** Per-route request metrics into the monitor. @default true when a monitor is given */
  requestMetrics?: boolean
  /** Operational endpoints. @default on (needs a monitor for the metrics ones) */
  endpoints?: false | EndpointOptions
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Response cache for this route: a TTL, settings, or false to never cache it. */
    cache?: Duration | RouteCacheConfig | false
    /** Rate limit for this route, or false to exempt it from the global one. */
    rateLimit?: RouteRateLimit | false
    /** false: never shed this route. */
    shed?: boolean
    /** Wrap JSON responses as { data, meta }. */
    envelope?: boolean
    /** Priority class under the shedding adaptive limit. @default its first class */
    priority?: string
  }
  interface FastifyInstance {
    /** The hotpath layer's handles (response cache, cache, monitor). */
    hotpath: {
      cache: Cache
      responseCache: ResponseCache | undefined
      monitor: Monitor | undefined
      /** Drops cached responses by tag and by URL path, on every instance. */
      invalidate(input: { tags?: string[]; urls?: string[] }): Promise<void>
      /** Per-route response-cache stats. */
      cacheStats(): Record<string, RouteCacheStats>
    }
  }
}

const START = Symbol('hotpath.start')
const SLOT = Symbol('hotpath.slot')

const plugin: FastifyPluginAsync<HotpathFastifyOptions> = async (app: FastifyInstance, options) => {
  const cache =
    options.cache ?? createCache({ name: 'http', memory: { maxEntries: 10_000, maxBytes: 64 * 1024 * 1024 } })
  const ownsCache = options.cache === undefined
  const monitor = options.monitor
  const rc =
    options.responseCache === false
      ? undefined
      : new ResponseCache(cache, options.responseCache ?? {}, Boolean(app.initialConfig.ignoreTrailingSlash))
  rc?.bind(app)
  const compressor = options.compression === false ? undefined : new Compressor(options.compression ?? {})
  const endpointPaths =
    options.endpoints === false
      ? []
      : registerEndpoints(app, { ...options.endpoints }, { monitor, rc, cache })
  const shedder = options.shedding
    ? new Shedder(options.shedding, endpointPaths, monitor?.eventLoop)
    : undefined
  shedder?.start()

  const limiters = new WeakMap<object, { limiter: RateLimiter; key: (r: FastifyRequest) => string } | null>()
  const globalLimit =
    options.rateLimit === undefined
      ? undefined
      : {
          limiter: createRateLimiter({ ...limiterOptions(options.rateLimit), monitor }),
          key: options.rateLimit.key ?? ((r: FastifyRequest) => r.ip),
        }
  const limiterFor = (request: FastifyRequest) => {
    const cfg = routeConfig(request)
    if (cfg?.rateLimit === false) return undefined
    if (cfg?.rateLimit === undefined) return globalLimit
    let l = limiters.get(cfg)
    if (l === undefined) {
      const rl = cfg.rateLimit
      l = {
        limiter: createRateLimiter({
          ...limiterOptions(rl),
          name: rl.name ?? routeConfig(request).url ?? 'route',
          monitor,
        }),
        key: rl.key ?? ((r) => r.ip),
      }
      limiters.set(cfg, l)
    }
    return l ?? undefined
  }

  const metrics =
    monitor !== undefined && options.requestMetrics !== false
      ? {
          duration: monitor.histogram(
            `${monitor.prefix}http_request_duration_seconds`,
            'HTTP request duration by route, method and status class',
            ['route', 'method', 'status_class'],
          ),
          inflight: monitor.gauge(
            `${monitor.prefix}http_requests_in_flight`,
            'HTTP requests being served',
            [],
          ),
          shed: monitor.counter(
            `${monitor.prefix}http_requests_shed_total`,
            'Requests refused by load shedding',
            ['route'],
          ),
        }
      : undefined
  let inflight = 0

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

  /** The response-cache step of onRequest; calls `done` unless the reply was sent. */
  const cacheStep = (request: FastifyRequest, reply: FastifyReply, done: (err?: Error) => void): void => {
    if (rc === undefined) {
      done()
      return
    }
    const r = rc.onRequest(request, reply)
    if (r === SERVED_FLAG) return
    if (r === undefined) {
      done()
      return
    }
    r.then(
      (v) => {
        if (v !== SERVED_FLAG) done()
      },
      (err: unknown) => done(err as Error),
    )
  }

  // callback-style hooks: an L1 hit is answered without a single promise
  app.addHook('onRequest', (request: FastifyRequest, reply: FastifyReply, done: (err?: Error) => void) => {
    if (metrics !== undefined) {
      ;(request as unknown as Record<symbol, number>)[START] = performance.now()
      metrics.inflight.set(undefined, ++inflight)
    }
    if (
      shedder !== undefined &&
      routeConfig(request).shed !== false &&
      !shedder.exempt.has(routeConfig(request).url ?? '')
    ) {
      const wait = shedder.retryAfter()
      if (wait > 0) {
        metrics?.shed.inc({ route: routeConfig(request).url ?? 'unknown' })
        reply.header('retry-after', String(wait))
        reply.code(503).send({ error: 'Service Unavailable', message: `overloaded; retry after ${wait}s` })
        return
      }
    }
    const adaptive = shedder?.adaptive
    if (
      adaptive !== undefined &&
      routeConfig(request).shed !== false &&
      !shedder?.exempt.has(routeConfig(request).url ?? '')
    ) {
      try {
        ;(request as unknown as Record<symbol, AdaptiveLimitToken>)[SLOT] = adaptive.acquire(
          routeConfig(request).priority,
        )
      } catch (err) {
        if (!isHotpathError(err, 'E_LIMIT_EXCEEDED')) return done(err as Error)
        metrics?.shed.inc({ route: routeConfig(request).url ?? 'unknown' })
        const wait = Math.max(1, Math.ceil((err.retryAfter ?? 1000) / 1000))
        reply.header('retry-after', String(wait))
        reply
          .code(503)
          .send({ error: 'Service Unavailable', message: `concurrency limit reached; retry after ${wait}s` })
        return
      }
    }
    const limit = limiterFor(request)
    if (limit === undefined) return cacheStep(request, reply, done)
    limit.limiter.consume(limit.key(request)).then(
      (d) => {
        reply.headers(limit.limiter.headers(d))
        if (!d.allowed) {
          reply.code(429).send({
            error: 'Too Many Requests',
            message: `rate limit exceeded; retry after ${Math.ceil(d.retryAfterMs / 1000)}s`,
          })
          return
        }
        cacheStep(request, reply, done)
      },
      (err: unknown) => done(err as Error),
    )
  })

  app.addHook(
    'onSend',
    (
      request: FastifyRequest,
      reply: FastifyReply,
      payload: unknown,
      done: (err: Error | null, p?: unknown) => void,
    ) => {
      let out: unknown = payload
      if (
        routeConfig(request).envelope === true &&
        typeof out === 'string' &&
        String(reply.getHeader('content-type')).includes('json')
      ) {
        const start = (request as unknown as Record<symbol, number>)[START]
        const ms = start === undefined ? '' : `,"durationMs":${(performance.now() - start).toFixed(2)}`
        out = `{"data":${out},"meta":{"requestId":${JSON.stringify(request.id)}${ms}}}`
      }
      const compress = (p: unknown) => {
        if (compressor === undefined) return done(null, p)
        compressor.apply(request, reply, p).then(
          (c) => done(null, c),
          (err: unknown) => done(err as Error),
        )
      }
      if (rc === undefined || rc.isServed(reply)) {
        if (rc !== undefined) return done(null, out)
        return compress(out)
      }
      const before = out
      rc.onSend(request, reply, out).then(
        (r) => {
          if (r !== before || reply.getHeader('etag') !== undefined) done(null, r)
          else compress(r)
        },
        (err: unknown) => done(err as Error),
      )
    },
  )

  const releaseSlot = (request: FastifyRequest, dropped: boolean) => {
    const slot = (request as unknown as Record<symbol, AdaptiveLimitToken | undefined>)[SLOT]
    if (slot !== undefined) shedder?.adaptive?.release(slot, dropped)
  }

  // the response cache settles its flights in onSend (and onRequestAbort); only metrics and the
  // adaptive limit need this
  if (metrics !== undefined || shedder?.adaptive !== undefined) {
    app.addHook('onResponse', (request: FastifyRequest, reply: FastifyReply, done: () => void) => {
      releaseSlot(request, reply.statusCode >= 500)
      rc?.settle(request)
      if (metrics !== undefined) {
        metrics.inflight.set(undefined, --inflight)
        const start = (request as unknown as Record<symbol, number>)[START] ?? performance.now()
        metrics.duration.observe(
          {
            route: routeConfig(request).url ?? 'unknown',
            method: request.method,
            status_class: `${Math.floor(reply.statusCode / 100)}xx`,
          },
          (performance.now() - start) / 1000,
        )
      }
      done()
    })
  }

  app.addHook('onRequestAbort', async (request) => {
    rc?.settle(request)
    releaseSlot(request, true)
  })

  app.addHook('onClose', async () => {
    shedder?.stop()
    if (ownsCache) await cache.close()
  })
}

/** The hotpath Fastify plugin. */
const hotpath = fp(plugin, { fastify: '5.x', name: 'hotpath' })
export default hotpath
export { ResponseCache } from './response-cache.js'
export type {
  CompressionOptions,
  EndpointOptions,
  ResponseCacheOptions,
  RouteCacheConfig,
  RouteCacheStats,
  SheddingOptions,
}
export { hotpath }

/** A route's rate limit minus `key` (the plugin's, not the limiter's: the limiter refuses unknown options). */
function limiterOptions(rl: RouteRateLimit): Omit<RouteRateLimit, 'key'> {
  const { key: _key, ...rest } = rl
  return rest
}
