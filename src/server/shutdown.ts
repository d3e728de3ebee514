/**
 * The reference server's graceful close: stop accepting connections, let every in-flight request
 * finish, close each keep-alive socket as soon as it goes idle, then close the cache, the monitor
 * and Redis, in that order (the cache may still write to Redis while it closes).
 */
import type { FastifyInstance } from 'fastify'
import type { Redis } from 'ioredis'
import type { Cache } from '../cache/index.js'
import type { Monitor } from '../metrics/index.js'

/** How often idle keep-alive sockets are looked for while the HTTP server drains. */
const IDLE_SWEEP_MS = 20
/** How long QUIT may wait for Redis' answer before the connection is dropped. */
const REDIS_QUIT_MS = 1000

/** What a graceful close closes. */
export interface Closable {
  app: FastifyInstance
  cache: Cache
  monitor: Monitor
  redis: Redis | undefined
  /** Closes what uses the cache (the agents, the database) once the HTTP server is closed. */
  beforeCache?: () => Promise<void>
}

/** Closes everything in order; `onStep` hears each step once it is done. */
export async function closeGracefully(
  parts: Closable,
  onStep: (step: string) => void = () => {},
): Promise<void> {
  const { app, cache, monitor, redis } = parts
  // Fastify closes the sockets that are idle when close() starts; a socket busy then goes idle
  // after its response and would stay open for the whole keep-alive timeout, holding close()
  // (and the process) that long. Sweeping until the server is closed frees each one within a few
  // ms of its last response. Unref'd: it never keeps the process alive on its own.
  const sweep = setInterval(() => app.server.closeIdleConnections(), IDLE_SWEEP_MS)
  sweep.unref()
  try {
    await app.close()
  } finally {
    clearInterval(sweep)
  }
  onStep('http server closed')
  if (parts.beforeCache !== undefined) {
    await parts.beforeCache()
    onStep('agents and database closed')
  }
  await cache.close()
  onStep('cache closed')
  monitor.close()
  onStep('monitor closed')
  if (redis !== undefined) {
    // QUIT is sent after the commands already queued (the cache's last L2 writes), so they reach
    // Redis; a Redis that does not answer gets a bounded wait, then the connection is dropped
    let timer: NodeJS.Timeout | undefined
    await Promise.race([
      redis.quit().catch(() => {}),
      new Promise((r) => {
        timer = setTimeout(r, REDIS_QUIT_MS)
      }),
    ])
    clearTimeout(timer)
    redis.disconnect()
    onStep('redis closed')
  }
}
