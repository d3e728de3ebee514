/**
 * The operational endpoints: /health, /health/live, /health/ready, /metrics (Prometheus),
 * /api/metrics (JSON snapshot), /api/health/performance, /api/health/recommendations,
 * /api/cache/stats and POST /api/cache/invalidate. Off unless the app opts in
 * (`endpoints: {}`), so an app's own /health is never taken; mountable under a `prefix`; the
 * read endpoints are guarded by `protect` and/or a bearer `token` (the health probes stay open
 * for load balancers); invalidation needs `invalidateToken` (it is off without one).
 */
import { timingSafeEqual } from 'node:crypto'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { Cache } from '../cache/index.js'
import type { Monitor } from '../metrics/index.js'
import { assertKnownKeys } from '../options.js'
import type { ResponseCache } from './response-cache/index.js'

/** Endpoint options. */
export interface EndpointOptions {
  /** Mounts every endpoint under this path prefix (e.g. '/_ops'). @default '' */
  prefix?: string | undefined
  /** Path overrides (false removes an endpoint). */
  paths?: Partial<Record<EndpointName, string | false>>
  /** Guards the read endpoints (not the health probes): return false to answer 401. */
  protect?: ((request: FastifyRequest) => boolean | Promise<boolean>) | undefined
  /** Bearer token (at least 16 characters) the read endpoints require (not the health probes). */
  token?: string | undefined
  /** Bearer token for POST /api/cache/invalidate. Without it the endpoint is not registered. */
  invalidateToken?: string | undefined
}

const KNOWN: readonly (keyof EndpointOptions)[] = ['prefix', 'paths', 'protect', 'token', 'invalidateToken']

/** Names of the endpoints. */
export type EndpointName =
  | 'health'
  | 'live'
  | 'ready'
  | 'metrics'
  | 'jsonMetrics'
  | 'performance'
  | 'recommendations'
  | 'cacheStats'
  | 'invalidate'

const DEFAULTS: Record<EndpointName, string> = {
  health: '/health',
  live: '/health/live',
  ready: '/health/ready',
  metrics: '/metrics',
  jsonMetrics: '/api/metrics',
  performance: '/api/health/performance',
  recommendations: '/api/health/recommendations',
  cacheStats: '/api/cache/stats',
  invalidate: '/api/cache/invalidate',
}

/** Registers the endpoints; returns the paths of the health probes (exempt from shedding). */
export function registerEndpoints(
  app: FastifyInstance,
  o: EndpointOptions,
  deps: { monitor: Monitor | undefined; rc: ResponseCache | undefined; cache: Cache },
): string[] {
  assertKnownKeys(o, KNOWN, 'endpoints')
  if (o.paths !== undefined) {
    assertKnownKeys(o.paths, Object.keys(DEFAULTS), 'endpoints.paths')
    for (const [n, p] of Object.entries(o.paths)) {
      if (p !== false && p !== undefined && (typeof p !== 'string' || !p.startsWith('/'))) {
        throw new TypeError(
          `endpoints.paths.${n} must be a path starting with '/' or false; received ${JSON.stringify(p)}`,
        )
      }
    }
  }
  const prefix = o.prefix ?? ''
  if (typeof prefix !== 'string' || (prefix !== '' && (!prefix.startsWith('/') || prefix.endsWith('/')))) {
    throw new TypeError(
      `endpoints.prefix must be '' or a path like '/_ops' (no trailing slash); received ${String(prefix)}`,
    )
  }
  if (o.protect !== undefined && typeof o.protect !== 'function') {
    throw new TypeError('endpoints.protect must be a function of the request')
  }
  const path = (n: EndpointName): string | undefined => {
    const p = o.paths?.[n]
    if (p === false) return undefined
    return prefix + (p ?? DEFAULTS[n])
  }
  const config = { hotpath: { cache: false as const, rateLimit: false as const, shed: false } }
  const token = o.token === undefined ? undefined : bearer(o.token, 'endpoints.token')
  const guard = async (request: FastifyRequest, reply: FastifyReply): Promise<boolean> => {
    if (
      (token === undefined || sameSecret(request.headers.authorization, token)) &&
      (o.protect === undefined || (await o.protect(request)))
    )
      return true
    reply.code(401).send({ error: 'Unauthorized' })
    return false
  }
  const { monitor, rc, cache } = deps
  const probes: string[] = []
  const health = async (kind: 'liveness' | 'readiness' | undefined, reply: FastifyReply) => {
    if (monitor === undefined) return { status: 'healthy', reasons: [], components: [] }
    const r = await monitor.health(kind)
    if (r.status === 'unhealthy') reply.code(503)
    return r
  }
  const h = path('health')
  if (h) {
    probes.push(h)
    app.get(h, { config }, async (_req, reply) => health(undefined, reply))
  }
  const live = path('live')
  if (live) {
    probes.push(live)
    app.get(live, { config }, async (_req, reply) => health('liveness', reply))
  }
  const ready = path('ready')
  if (ready) {
    probes.push(ready)
    app.get(ready, { config }, async (_req, reply) => health('readiness', reply))
  }
  const m = path('metrics')
  if (m && monitor) {
    app.get(m, { config }, async (req, reply) => {
      if (!(await guard(req, reply))) return reply
      reply.header('content-type', monitor.contentType)
      return monitor.metrics()
    })
  }
  const jm = path('jsonMetrics')
  if (jm && monitor) {
    app.get(jm, { config }, async (req, reply) => ((await guard(req, reply)) ? monitor.snapshot() : reply))
  }
  const perf = path('performance')
  if (perf && monitor) {
    app.get(perf, { config }, async (req, reply) => {
      if (!(await guard(req, reply))) return reply
      const s = monitor.snapshot()
      return { runtime: s.runtime, operations: s.operations, alerts: s.alerts }
    })
  }
  const rec = path('recommendations')
  if (rec && monitor) {
    app.get(rec, { config }, async (req, reply) =>
      (await guard(req, reply)) ? { recommendations: monitor.recommendations() } : reply,
    )
  }
  const cs = path('cacheStats')
  if (cs) {
    app.get(cs, { config }, async (req, reply) =>
      (await guard(req, reply)) ? { cache: cache.stats(), routes: rc?.snapshot() ?? {} } : reply,
    )
  }
  const inv = path('invalidate')
  if (inv && o.invalidateToken !== undefined && rc !== undefined) {
    const expected = bearer(o.invalidateToken, 'endpoints.invalidateToken')
    app.post(inv, { config }, async (req, reply) => {
      if (!sameSecret(req.headers.authorization, expected)) {
        return reply.code(401).send({ error: 'Unauthorized' })
      }
      const body = (req.body ?? {}) as { tags?: unknown; urls?: unknown }
      const tags = body.tags ?? []
      const urls = body.urls ?? []
      if (
        !Array.isArray(tags) ||
        !Array.isArray(urls) ||
        [...tags, ...urls].some((t) => typeof t !== 'string' || t === '')
      ) {
        return reply
          .code(400)
          .send({ error: 'Bad Request', message: 'body must be { tags?: string[], urls?: string[] }' })
      }
      await rc.invalidateTags(tags as string[])
      for (const u of urls as string[]) await rc.invalidateUrl(u)
      return { invalidated: { tags, urls } }
    })
  }
  return probes
}

/** `Bearer <token>` as bytes, after checking the token is a string of at least 16 characters. */
function bearer(token: unknown, option: string): Buffer {
  if (typeof token !== 'string' || token.length < 16) {
    throw new TypeError(`${option} must be a string of at least 16 characters`)
  }
  return Buffer.from(`Bearer ${token}`)
}

/** Constant-time comparison of an Authorization header with the expected bytes. */
function sameSecret(header: string | undefined, expected: Buffer): boolean {
  const got = Buffer.from(String(header ?? ''))
  return got.length === expected.length && timingSafeEqual(got, expected)
}
