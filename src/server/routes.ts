/**
 * The gateway's HTTP API, registered in groups: the index of routes; the catalogue (cached reads
 * tagged per product, an authenticated write that invalidates exactly those tags); one route per
 * feature on show (a per-identity cache, stale-while-revalidate, a rate limit shared through
 * Redis); the agents on the bus (a quote by request-reply, restocks queued by priority); and the
 * operator's views of the database (its workload and the index advisor's report on it). The
 * WebSocket, the dashboard and the operational endpoints are wired in app.ts with the parts they
 * need.
 */
import type { FastifyInstance } from 'fastify'
import type { Redis } from 'ioredis'
import { PRIORITIES, type Priority } from '../bus/index.js'
import { adviseIndexes } from '../db/index.js'
import { isHotpathError } from '../errors.js'
import type { Monitor } from '../metrics/index.js'
import type { Agents } from './agents.js'
import { bearerMatches, identify, requireIdentity, unauthorized } from './auth.js'
import type { Catalog } from './catalog.js'
import type { ServerConfig } from './config.js'

/** What the routes use. */
export interface RouteDeps {
  config: ServerConfig
  monitor: Monitor
  catalog: Catalog
  agents: Agents
  /** The shared Redis client, when REDIS_URL is set (the rate limit is shared through it). */
  redis: Redis | undefined
}

/**
 * Registers the API routes on `app`. Call it after the hotpath plugin is registered, so that its
 * route hooks see each route's `config.hotpath`.
 */
export function registerRoutes(app: FastifyInstance, deps: RouteDeps): void {
  indexRoute(app)
  catalogRoutes(app, deps)
  featureRoutes(app, deps)
  agentRoutes(app, deps)
  databaseRoutes(app, deps)
}

/** `/`: what the gateway serves. */
function indexRoute(app: FastifyInstance): void {
  app.get('/', async () => ({
    name: 'hotpath agent gateway',
    routes: [
      '/api/catalog',
      '/api/catalog/:id',
      'POST /api/catalog/:id',
      '/api/whoami',
      '/api/aggregate',
      '/api/limited',
      '/api/agents/quote/:id',
      'POST /api/agents/restock',
      '/api/agents',
      'WebSocket /live',
      '/api/db/workload',
      '/api/db/advice',
    ],
    dashboard: '/dashboard',
    operations: [
      '/health',
      '/health/live',
      '/health/ready',
      '/metrics',
      '/api/metrics',
      '/api/health/performance',
      '/api/health/recommendations',
      '/api/cache/stats',
    ],
  }))
}

/** The catalogue: the list, one product, and the write that invalidates them. */
function catalogRoutes(app: FastifyInstance, { config, monitor, catalog }: RouteDeps): void {
  app.get(
    '/api/catalog',
    {
      config: {
        hotpath: {
          cache: {
            ttl: config.cacheDefaultTtl,
            tags: ['catalog', 'catalog:list'],
            staleWhileRevalidate: '1m',
            staleIfError: '10m',
          },
        },
      },
    },
    async () => monitor.measure('catalog.list', () => catalog.list()),
  )

  app.get<{ Params: { id: string } }>(
    '/api/catalog/:id',
    {
      config: {
        hotpath: {
          cache: {
            ttl: config.cacheDefaultTtl,
            tags: (r) => ['catalog', `product:${(r.params as { id: string }).id}`],
          },
        },
      },
    },
    async (request, reply) => {
      const id = Number(request.params.id)
      if (!Number.isInteger(id) || id < 1)
        return reply.code(400).send({ error: 'Bad Request', message: 'id must be a positive integer' })
      const p = await monitor.measure('catalog.get', () => catalog.get(id))
      if (p === undefined) return reply.code(404).send({ error: 'Not Found' })
      return p
    },
  )

  app.post<{ Params: { id: string }; Body: { price?: number; stock?: number } }>(
    '/api/catalog/:id',
    {
      // before the body is read: a stranger gets 401, not a validation error
      onRequest: requireIdentity,
      schema: {
        body: {
          type: 'object',
          additionalProperties: false,
          properties: { price: { type: 'number', minimum: 0 }, stock: { type: 'integer', minimum: 0 } },
        },
      },
    },
    async (request, reply) => {
      const id = Number(request.params.id)
      const p = await catalog.update(id, request.body ?? {})
      if (p === undefined) return reply.code(404).send({ error: 'Not Found' })
      // as narrow as the write: this product and the lists that show it, not every product
      await app.hotpath.invalidate({ tags: [`product:${id}`, 'catalog:list'] })
      return p
    },
  )
}

/** One route per feature on show: a per-identity cache, stale-while-revalidate, a rate limit. */
function featureRoutes(app: FastifyInstance, { monitor, catalog, redis }: RouteDeps): void {
  app.get(
    '/api/whoami',
    {
      config: {
        hotpath: {
          cache: {
            ttl: '1m',
            perIdentity: (r) => identify(r)?.id,
          },
        },
      },
    },
    async (request, reply) => {
      const user = identify(request)
      if (user === undefined) return unauthorized(reply)
      await catalog.get(1)
      return { user, at: new Date().toISOString() }
    },
  )

  app.get(
    '/api/aggregate',
    { config: { hotpath: { cache: { ttl: '10s', staleWhileRevalidate: '30s' } } } },
    async () => monitor.measure('catalog.aggregate', () => catalog.aggregate()),
  )

  app.get(
    '/api/limited',
    {
      config: {
        hotpath: {
          cache: false,
          rateLimit: { limit: 5, window: '10s', name: 'limited', ...(redis ? { redis } : {}) },
        },
      },
    },
    async () => ({ ok: true, at: Date.now() }),
  )
}

/** The agents on the bus: a quote (request-reply), a restock (a task with a priority), their stats. */
function agentRoutes(app: FastifyInstance, { agents }: RouteDeps): void {
  app.get<{ Params: { id: string } }>(
    '/api/agents/quote/:id',
    {
      config: {
        hotpath: { cache: { ttl: '5s', tags: (r) => [`product:${(r.params as { id: string }).id}`] } },
      },
    },
    async (request, reply) => {
      const id = Number(request.params.id)
      if (!Number.isInteger(id) || id < 1)
        return reply.code(400).send({ error: 'Bad Request', message: 'id must be a positive integer' })
      try {
        return await agents.quote(id)
      } catch (err) {
        if (isHotpathError(err, 'E_BUS_HANDLER')) return reply.code(404).send({ error: 'Not Found' })
        throw err
      }
    },
  )

  app.post<{ Body: { id: number; amount: number; priority?: Priority } }>(
    '/api/agents/restock',
    {
      onRequest: requireIdentity,
      schema: {
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['id', 'amount'],
          properties: {
            id: { type: 'integer', minimum: 1 },
            amount: { type: 'integer', minimum: 1, maximum: 10_000 },
            priority: { type: 'string', enum: [...PRIORITIES] },
          },
        },
      },
    },
    async (request, reply) => {
      const { id, amount, priority = 'normal' } = request.body
      const messageId = await agents.restock({ id, amount }, priority)
      return reply.code(202).send({ queued: messageId, priority })
    },
  )

  app.get('/api/agents', { config: { hotpath: { cache: false } } }, async () => agents.stats())
}

/** The catalogue's own workload and the index advisor's report on it (METRICS_TOKEN guards both). */
function databaseRoutes(app: FastifyInstance, { config, catalog }: RouteDeps): void {
  const operator = (request: { headers: { authorization?: string | undefined } }) =>
    config.metricsToken === undefined || bearerMatches(request.headers.authorization, config.metricsToken)
  app.get('/api/db/workload', { config: { hotpath: { cache: false } } }, async (request, reply) => {
    if (!operator(request)) return unauthorized(reply)
    return catalog.db.workload()
  })
  app.get('/api/db/advice', { config: { hotpath: { cache: false } } }, async (request, reply) => {
    if (!operator(request)) return unauthorized(reply)
    return adviseIndexes({ db: catalog.db, budget: 5 })
  })
}
