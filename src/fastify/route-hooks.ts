/**
 * The per-route hooks. `attach` runs in onRoute: it reads the route's `config.hotpath` once and
 * adds to that route only the hooks it needs (as @fastify/rate-limit does), so an unconfigured
 * route pays nothing. Each hook records the outcome it produced in the request's one state slot.
 */
import type {
  FastifyReply,
  FastifyRequest,
  HookHandlerDoneFunction,
  onRequestHookHandler,
  onSendHookHandler,
  RouteOptions,
} from 'fastify'
import { isHotpathError } from '../errors.js'
import type { Monitor } from '../metrics/index.js'
import { createRateLimiter, type RateLimiter } from '../resilience/index.js'
import type { Compressor } from './compression.js'
import { type RequestMetrics, RouteDurations, requestMetrics } from './request-metrics.js'
import { HotpathRequestState } from './request-state.js'
import {
  type CachePolicy,
  DirectHits,
  invalidateAfterUnsafe,
  lookupRequest,
  type Next,
  preconditionForUnsafe,
  type ResponseCache,
  resolveCachePolicy,
  storeResponse,
  tracedLookup,
  tracingChannels,
} from './response-cache/index.js'
import { type RouteEnd, trackEnd } from './response-end.js'
import { type RouteRateLimit, readRouteConfig } from './route-config.js'
import type { Shedder } from './shedding.js'

/** What the hooks share (built once by the plugin). */
export interface HookDeps {
  rc: ResponseCache | undefined
  compressor: Compressor | undefined
  shedder: Shedder | undefined
  /** For request metrics (undefined: off). */
  monitor: Monitor | undefined
  /** For the rate limiters' own metrics. */
  limiterMonitor: Monitor | undefined
  globalLimit: RouteRateLimit | undefined
}

interface Limit {
  limiter: RateLimiter
  key: (r: FastifyRequest) => string
}

/** One route's settings, resolved when it is registered. */
interface Resolved {
  url: string
  /** The route's first method (its request metrics are bound for it up front). */
  method: string
  /** GET/HEAD: the route's cache policy; 'patterns' when the `routes` option decides per path. */
  cache: CachePolicy | 'patterns' | undefined
  /** Whether the route's fresh hits may be written straight to the response (decided on the first). */
  direct: DirectHits | undefined
  /** An unsafe method (a successful one invalidates its URL; If-None-Match may get 412). */
  unsafe: boolean
  limit: Limit | undefined
  shed: boolean
  priority: string | undefined
  envelope: boolean
  /** Request metrics for this route (off with config.hotpath.metrics: false, e.g. event streams). */
  metrics: boolean
  /** What the end of a response does (metrics, the adaptive slot), or undefined: nothing. */
  end: RouteEnd | undefined
}

const asArray = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v])

/** Builds and attaches the hooks of each route. */
export class RouteHooks {
  private readonly metrics: RequestMetrics | undefined
  private readonly globalLimit: Limit | undefined

  constructor(private readonly d: HookDeps) {
    this.metrics = d.monitor === undefined ? undefined : requestMetrics(d.monitor)
    const g = d.globalLimit
    this.globalLimit = g === undefined ? undefined : this.limit(g, 'rateLimit', g.name ?? 'global')
  }

  /**
   * One limiter per route rate-limit config object: the HEAD route Fastify adds for a GET shares
   * its config, and must share its budget (regression: HEAD had a budget of its own, doubling a
   * client's allowance, and two limiters reported under one name).
   */
  private readonly limits = new WeakMap<object, Limit>()

  private limit(rl: RouteRateLimit, where: string, name: string): Limit {
    if (typeof rl !== 'object' || rl === null) throw new TypeError(`${where} must be an object or false`)
    const known = this.limits.get(rl)
    if (known !== undefined) return known
    const made = this.makeLimit(rl, where, name)
    this.limits.set(rl, made)
    return made
  }

  private makeLimit(rl: RouteRateLimit & object, where: string, name: string): Limit {
    const { key, ...rest } = rl
    if (key !== undefined && typeof key !== 'function') throw new TypeError(`${where}.key must be a function`)
    return {
      limiter: createRateLimiter({ ...rest, name: rest.name ?? name, monitor: this.d.limiterMonitor }),
      key: key ?? ((r) => r.ip),
    }
  }

  /** onRoute: resolves the route's config.hotpath and adds the hooks it needs. */
  attach(route: RouteOptions): void {
    const methods = asArray(route.method).map((m) => String(m).toUpperCase())
    const where = `route ${methods.join(',')} ${route.url}`
    const cfg = readRouteConfig((route.config as { hotpath?: unknown } | undefined)?.hotpath, where)
    const { rc } = this.d
    const readable = methods.every((m) => m === 'GET' || m === 'HEAD')
    let cache: Resolved['cache']
    if (rc !== undefined && readable && cfg.cache !== false) {
      if (cfg.cache !== undefined) {
        cache = resolveCachePolicy(cfg.cache, `${where} config.hotpath.cache`)
        rc.getPolicies.set(route.url, cache)
      } else if (!rc.patterns.empty) cache = 'patterns'
    }
    const r: Resolved = {
      url: route.url,
      method: methods[0] ?? 'GET',
      cache,
      direct: cache === undefined ? undefined : new DirectHits(),
      unsafe: rc !== undefined && methods.some((m) => m !== 'GET' && m !== 'HEAD' && m !== 'OPTIONS'),
      limit:
        cfg.rateLimit === false
          ? undefined
          : cfg.rateLimit === undefined
            ? this.globalLimit
            : this.limit(cfg.rateLimit, `${where} config.hotpath.rateLimit`, route.url),
      shed: this.d.shedder !== undefined && cfg.shed !== false && !this.d.shedder.exempt.has(route.url),
      priority: cfg.priority,
      envelope: cfg.envelope === true,
      metrics: this.metrics !== undefined && cfg.metrics !== false,
      end: undefined,
    }
    r.end = this.routeEnd(r)
    const needsState =
      r.metrics || r.shed || r.limit !== undefined || r.cache !== undefined || r.unsafe || r.envelope
    if (!needsState && this.d.compressor === undefined) return
    // the end of a response (metrics, the adaptive slot) is seen by one 'close' listener that
    // onRequest adds (response-end.ts), not by onResponse / onRequestAbort hooks
    if (needsState) route.onRequest = [...asArray(route.onRequest), this.onRequest(r)]
    // onSend stores cached responses, invalidates after unsafe methods, wraps the envelope and
    // compresses: a route with none of those (request metrics, limits, shedding only) runs
    // without one (Fastify's onSend runner is a cost on every reply)
    if (r.cache !== undefined || r.unsafe || r.envelope || this.d.compressor !== undefined) {
      route.onSend = [...asArray(route.onSend), this.onSend(r)]
    }
  }

  /** The route's end-of-response work: request metrics, the adaptive limit's slot. */
  private routeEnd(r: Resolved): RouteEnd | undefined {
    const metrics = r.metrics ? this.metrics : undefined
    const adaptive = r.shed ? this.d.shedder?.adaptive : undefined
    if (metrics === undefined && adaptive === undefined) return undefined
    return {
      metrics,
      durations: metrics === undefined ? undefined : new RouteDurations(metrics.duration, r.url, r.method),
      adaptive,
    }
  }

  private onRequest(r: Resolved): onRequestHookHandler {
    const { rc, shedder } = this.d
    const end = r.end
    const adaptive = end?.adaptive
    const cacheStep = (
      request: FastifyRequest,
      reply: FastifyReply,
      state: HotpathRequestState,
      done: HookHandlerDoneFunction,
    ) => {
      let next: Next | Promise<Next> = 'continue'
      if (rc !== undefined) {
        const m = request.method
        if (r.cache !== undefined && (m === 'GET' || m === 'HEAD')) {
          const policy = r.cache === 'patterns' ? rc.patterns.match(pathOf(request.url)) : r.cache
          if (policy !== undefined) {
            next = tracingChannels.responseCache.hasSubscribers
              ? tracedLookup(rc, request, reply, state, r.url, policy, r.direct)
              : lookupRequest(rc, request, reply, state, r.url, policy, r.direct)
          }
        } else if (r.unsafe && request.headers['if-none-match'] !== undefined) {
          const policy = rc.getPolicies.get(r.url) ?? rc.patterns.match(pathOf(request.url))
          if (policy !== undefined) next = preconditionForUnsafe(rc, request, reply, state, policy)
        }
      }
      if (next === 'continue') return done()
      if (next === 'sent') return
      next.then(
        (v) => {
          if (v === 'continue') guard(reply, done)
        },
        (err: unknown) => done(err as Error),
      )
    }
    // callback-style: an L1 hit is answered without a single promise
    return (request, reply, done) => {
      const state = new HotpathRequestState()
      request.hotpath = state
      if (r.envelope) state.start = performance.now()
      if (end !== undefined) trackEnd(reply, state, end)
      if (r.shed && shedder !== undefined) {
        const wait = shedder.retryAfter()
        if (wait > 0) return this.shed(reply, state, r, wait, `overloaded; retry after ${wait}s`)
        if (adaptive !== undefined) {
          try {
            state.slot = adaptive.acquire(r.priority)
          } catch (err) {
            if (!isHotpathError(err, 'E_LIMIT_EXCEEDED')) return done(err as Error)
            const w = Math.max(1, Math.ceil((err.retryAfter ?? 1000) / 1000))
            return this.shed(reply, state, r, w, `concurrency limit reached; retry after ${w}s`)
          }
        }
      }
      const limit = r.limit
      if (limit === undefined) return cacheStep(request, reply, state, done)
      limit.limiter.consume(limit.key(request)).then(
        (d) =>
          guard(reply, () => {
            reply.headers(limit.limiter.headers(d))
            if (!d.allowed) {
              state.outcome = 'rate-limited'
              reply.code(429).send({
                error: 'Too Many Requests',
                message: `rate limit exceeded; retry after ${Math.ceil(d.retryAfterMs / 1000)}s`,
              })
              return
            }
            cacheStep(request, reply, state, done)
          }),
        (err: unknown) => done(err as Error),
      )
    }
  }

  private shed(
    reply: FastifyReply,
    state: HotpathRequestState,
    r: Resolved,
    wait: number,
    message: string,
  ): void {
    state.outcome = 'shed'
    this.metrics?.shed.inc({ route: r.url })
    reply.header('retry-after', String(wait))
    reply.code(503).send({ error: 'Service Unavailable', message })
  }

  private onSend(r: Resolved): onSendHookHandler {
    const { rc, compressor } = this.d
    const compress = (
      request: FastifyRequest,
      reply: FastifyReply,
      p: unknown,
      done: (err: Error | null, p?: unknown) => void,
    ) => {
      if (compressor === undefined) return done(null, p)
      compressor.apply(request, reply, p).then(
        (c) => guard(reply, () => done(null, c)),
        (err: unknown) => done(err as Error),
      )
    }
    return (request, reply, payload, done) => {
      const state = request.hotpath
      // answered in onRequest (cache hit, 412, shed, 429): the payload is final
      if (state !== null && state.outcome !== 'handler') return done(null, payload)
      let out: unknown = payload
      if (r.envelope && typeof out === 'string' && String(reply.getHeader('content-type')).includes('json')) {
        const ms =
          state === null || state.start === 0
            ? ''
            : `,"durationMs":${(performance.now() - state.start).toFixed(2)}`
        out = `{"data":${out},"meta":{"requestId":${JSON.stringify(request.id)}${ms}}}`
      }
      const c = state?.cache
      if (rc !== undefined && state !== null && c !== undefined) {
        storeResponse(rc, request, reply, state, c, out).then(
          (p) => guard(reply, () => (c.final ? done(null, p) : compress(request, reply, p, done))),
          (err: unknown) => done(err as Error),
        )
        return
      }
      if (rc !== undefined && r.unsafe) {
        invalidateAfterUnsafe(rc, request, reply).then(
          () => guard(reply, () => compress(request, reply, out, done)),
          (err: unknown) => done(err as Error),
        )
        return
      }
      compress(request, reply, out, done)
    }
  }
}

/**
 * Runs a hook's continuation from a promise callback. What it throws (Node refusing a header that
 * a hook set, when the reply is written) goes to Fastify's error handling, a 500, as it does from
 * a synchronous hook (regression: it became an unhandled rejection, and the process ended).
 */
function guard(reply: FastifyReply, run: () => void): void {
  try {
    run()
  } catch (err) {
    if (reply.sent) reply.log.error({ err }, 'hotpath: writing the reply failed')
    else reply.send(err as Error)
  }
}

function pathOf(url: string): string {
  const q = url.indexOf('?')
  return q < 0 ? url : url.slice(0, q)
}
