/**
 * The reference server ("agent gateway"): every hotpath part at work on one Fastify app.
 * Embedded defaults (memory tiers, an in-memory PGlite catalogue, the memory bus); REDIS_URL adds
 * the Redis tier, the invalidation bus, shared rate limits and Redis Streams for the agents;
 * NATS_URL puts the agents on NATS JetStream instead;
 * DATABASE_URL puts the catalogue on PostgreSQL. The dashboard is at /dashboard, live product
 * updates at the /live WebSocket.
 * This file builds the parts and wires them together (health checks, the hotpath plugin, the
 * WebSocket, the dashboard, the shutdown order); the HTTP API's routes are in routes.ts.
 */
import websocket from '@fastify/websocket'
import Fastify, { type FastifyInstance } from 'fastify'
import { Redis } from 'ioredis'
import { type Cache, createCache } from '../cache/index.js'
import { createDashboard, dashboardPlugin } from '../dashboard/index.js'
import hotpath from '../fastify/index.js'
import { createMonitor, instrumentRedis, type Monitor } from '../metrics/index.js'
import { broadcaster } from '../ws/index.js'
import { Agents } from './agents.js'
import { Catalog, type Product } from './catalog.js'
import type { ServerConfig } from './config.js'
import { busPanel, dbPanel, livePanel } from './panels.js'
import { RedisProbe } from './redis-probe.js'
import { registerRoutes } from './routes.js'
import { closeGracefully } from './shutdown.js'

/**
 * Fastify's socket limits from the configuration. Node checks request deadlines on a sweep
 * (`connectionsCheckingInterval`, 30 s by default), so a deadline is enforced within a quarter of
 * itself; headers must arrive within the request deadline too (Node requires headersTimeout <=
 * requestTimeout).
 */
function connectionLimits(config: ServerConfig) {
  const requestTimeout = config.requestTimeoutMs
  return {
    requestTimeout,
    connectionTimeout: config.connectionTimeoutMs,
    keepAliveTimeout: config.keepAliveTimeoutMs,
    http: {
      requestTimeout,
      headersTimeout: Math.min(requestTimeout, 60_000),
      connectionsCheckingInterval: Math.min(30_000, Math.max(50, Math.floor(requestTimeout / 4))),
    },
  }
}

/** Of SHUTDOWN_TIMEOUT, what the closes after the agents' drain keep for themselves (ms; at most a quarter). */
const CLOSE_RESERVE_MS = 2000

/** The close step that says which queued agent messages the drain left, and where they are. */
function unhandledMessage(n: number, transport: string): string {
  return transport === 'memory'
    ? `agents: ${n} queued messages not handled within SHUTDOWN_TIMEOUT and lost with the process (the memory transport keeps them in this process only: set REDIS_URL or NATS_URL to keep them for the next instance)`
    : `agents: ${n} queued messages not handled within SHUTDOWN_TIMEOUT; they stay in ${transport} for the next consumer`
}

/** A built server and what it owns. */
export interface Server {
  app: FastifyInstance
  cache: Cache
  monitor: Monitor
  /** The catalogue on hotpath/db (its `calls` count the database calls made). */
  catalog: Catalog
  /** The agents on hotpath/bus. */
  agents: Agents
  /**
   * Stops accepting connections, lets in-flight requests finish (closing keep-alive sockets as
   * they go idle), then closes the cache, the monitor and Redis; `onStep` hears each step.
   */
  close(onStep?: (step: string) => void): Promise<void>
}

/** Builds the reference server (not listening yet). */
export async function buildServer(config: ServerConfig, options: { logger?: boolean } = {}): Promise<Server> {
  // the configuration already read and checked the monitor's variables: no second reading
  const monitor = createMonitor({ ...config.monitor, env: {} })
  const redis =
    config.redisUrl === undefined
      ? undefined
      : new Redis(config.redisUrl, { enableAutoPipelining: true, maxRetriesPerRequest: 1 })
  redis?.on('error', () => {})
  // the shared client's commands, latency, reconnects and state on /metrics (its check is below)
  if (redis) instrumentRedis(redis, { monitor, name: 'shared', healthCheck: false })
  const cache = createCache({
    name: 'gateway',
    ttl: config.cacheDefaultTtl,
    grace: '10m',
    memory: { maxEntries: config.cacheMaxSize, maxBytes: config.cacheMaxBytes },
    ...(redis ? { redis } : {}),
    monitor,
  })
  // start-up warnings go to the app's logger once it exists
  const startWarnings: string[] = []
  const catalog = await Catalog.open({
    warn: (m) => startWarnings.push(m),
    databaseUrl: config.databaseUrl,
    cache,
    redis,
    monitor,
    latencyMs: config.backendLatencyMs,
  })
  // live product updates: one broadcast group, a batch encoded once for every socket
  const live = broadcaster<Product>({ monitor, name: 'live' })
  const agents = await Agents.start({
    catalog,
    monitor,
    redis,
    nats: config.natsUrl === undefined ? undefined : { url: config.natsUrl, stream: config.natsStream },
    onSubscribeError: (bus, err, retryInMs) => {
      app.log.warn({ err, bus, retryInMs }, 'an agent could not subscribe on the bus; retrying')
    },
    onUpdate: (p) => {
      live.send(p, { key: `product:${p.id}` })
      // an agent's write reaches the HTTP responses as narrowly as the catalogue's own writes do
      void app.hotpath.invalidate({ tags: [`product:${p.id}`, 'catalog:list'] }).catch((err: unknown) => {
        app.log.warn({ err, id: p.id }, 'invalidating after an agent write failed')
      })
    },
  })
  monitor.addHealthCheck({
    name: 'cache',
    kind: 'readiness',
    critical: false,
    check: () => cache.stats().l2.breaker !== 'open',
  })
  if (redis) {
    // reads what a background probe recorded: no Redis round trip on the probe's request path
    const probe = new RedisProbe(redis)
    monitor.addHealthCheck({
      name: 'redis',
      kind: 'readiness',
      critical: false,
      timeout: '200ms',
      check: () => probe.check(),
    })
  }
  if (config.natsUrl !== undefined) {
    // the NATS transport's status events and background PINGs: no round trip here either
    monitor.addHealthCheck({
      name: 'nats',
      kind: 'readiness',
      critical: false,
      timeout: '200ms',
      check: () => {
        const h = agents.transportHealth()
        if (h === undefined) return { status: 'unhealthy', details: { connection: 'none' } }
        const { ok, ...details } = h
        return { status: ok ? 'healthy' : 'unhealthy', details }
      },
    })
  }
  // the agents' buses consume (a subscribe refused by the transport, an ACL say, is retried and
  // shows here rather than as requests to the agents timing out with nothing said)
  monitor.addHealthCheck({
    name: 'agents',
    kind: 'readiness',
    critical: false,
    check: () => {
      const { ok, ...details } = agents.consuming()
      return { status: ok ? 'healthy' : 'unhealthy', details }
    },
  })
  monitor.addHealthCheck({ name: 'event-loop', kind: 'liveness', check: () => true })

  const app = Fastify({ logger: options.logger ?? false, ...connectionLimits(config) })
  for (const w of startWarnings) app.log.warn(w)
  app.server.maxConnections = config.maxConnections
  await app.register(hotpath, {
    cache,
    monitor,
    responseCache: {
      routes: { '/api/catalog': config.cacheDefaultTtl, '/api/catalog/*': config.cacheDefaultTtl },
      compressAbove: config.minCompressionSize,
    },
    compression: config.enableCompression ? { threshold: config.minCompressionSize } : false,
    shedding: { maxEventLoopDelay: '250ms' },
    endpoints: {
      ...(config.invalidateToken === undefined ? {} : { invalidateToken: config.invalidateToken }),
      ...(config.metricsToken === undefined ? {} : { token: config.metricsToken }),
    },
  })

  registerRoutes(app, { config, monitor, catalog, agents, redis })

  await app.register(websocket)
  const closedLive = { messages: 0, frames: 0 }
  const members = new Set<ReturnType<typeof live.add>>()
  app.get('/live', { websocket: true, config: { hotpath: { cache: false, metrics: false } } }, (socket) => {
    const member = live.add(socket)
    members.add(member)
    socket.on('close', () => {
      const s = member.stats()
      closedLive.messages += s.messages
      closedLive.frames += s.frames
      members.delete(member)
      live.remove(member)
    })
  })

  const dashboard = createDashboard({
    monitor,
    panels: [
      dbPanel(() => catalog.db.stats()),
      busPanel(() => agents.stats()),
      livePanel(() => {
        let { messages, frames } = closedLive
        for (const m of members) {
          const s = m.stats()
          messages += s.messages
          frames += s.frames
        }
        return { messages, frames }
      }),
    ],
  })
  await app.register(dashboardPlugin, {
    dashboard,
    ...(config.metricsToken === undefined ? { public: true } : { token: config.metricsToken }),
  })

  return {
    app,
    cache,
    monitor,
    catalog,
    agents,
    close: (onStep) => {
      const deadline = Date.now() + config.shutdownTimeoutMs
      return closeGracefully(
        {
          app,
          cache,
          monitor,
          redis,
          // after the HTTP server (no request uses them any more), before the cache they write to
          beforeCache: async () => {
            live.close()
            // the queued agent messages get what is left of SHUTDOWN_TIMEOUT but the time the
            // closes after them need, so the force timer never cuts the close short
            const reserve = Math.min(CLOSE_RESERVE_MS, config.shutdownTimeoutMs / 4)
            const { unhandled } = await agents.close(Math.max(0, deadline - Date.now() - reserve))
            if (unhandled > 0) onStep?.(unhandledMessage(unhandled, agents.transportKind))
            await catalog.close()
          },
        },
        onStep,
      )
    },
  }
}
