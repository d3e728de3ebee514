/**
 * Configuration of the reference server from environment variables. Every value the server reads
 * is checked here, before anything starts, so a bad one stops `npm start` with exit code 2 and a
 * message naming the variable, the value and what is expected (never a stack trace from deep
 * inside the cache or the monitor).
 *
 * Variables (the README's reference-server section has the same table):
 * - PORT (3000), HOST (127.0.0.1): where the server listens; HOST is an IP address or a hostname.
 * - REDIS_URL: adds the Redis tier, the invalidation bus, shared rate limits and Redis Streams for
 *   the agents' bus.
 * - NATS_URL: the agents' bus on NATS JetStream (nats:// or tls:// URLs, comma-separated). It wins
 *   over REDIS_URL for the bus (NATS_URL has no other use, so setting it is the choice); Redis
 *   keeps the cache tier, invalidation and rate limits. NATS_STREAM (hotpath_gateway) names the
 *   JetStream stream, so two gateways can share one NATS.
 * - DATABASE_URL: the catalogue on PostgreSQL (a `hotpath_demo` schema, created and seeded once);
 *   unset, an in-memory PGlite seeded at start.
 * - CACHE_DEFAULT_TTL (5m): response-cache TTL, seconds or a duration; greater than 0.
 * - CACHE_MAX_SIZE (10000), CACHE_MAX_MB (64), ENABLE_COMPRESSION (true), MIN_COMPRESSION_SIZE (1024 bytes).
 * - INVALIDATE_TOKEN: enables POST /api/cache/invalidate (16+ characters).
 * - METRICS_TOKEN: when set (16+ characters), /metrics and the /api/metrics, /api/health/* and
 *   /api/cache/stats read endpoints require `Authorization: Bearer <token>`; the health probes
 *   (/health, /health/live, /health/ready) stay open. Unset: they are public, as for a demo.
 * - BACKEND_LATENCY_MS (40): simulated latency added to each database call (so the caches have
 *   something to save when the database answers in microseconds); 0 for none.
 * - PERFORMANCE_MONITORING_ENABLED (true), METRICS_COLLECTION_INTERVAL (10 s): the monitor.
 * - REQUEST_TIMEOUT (30 s): a whole request (headers and body) must arrive within it, else 408
 *   and the connection is closed — a client trickling a body cannot hold a connection forever.
 * - CONNECTION_TIMEOUT (60 s): a connection with no traffic for this long while a request is
 *   open is closed.
 * - KEEP_ALIVE_TIMEOUT (72 s): how long an idle keep-alive connection is kept; above the idle
 *   timeout of the load balancers in front (60 s for most), so they never reuse a closed one.
 * - MAX_CONNECTIONS (4096): connections beyond it are refused (closed at once).
 * - SHUTDOWN_TIMEOUT (10 s): on SIGTERM/SIGINT, a close that takes longer is forced (exit 1); the
 *   agents' queued messages drain for what is left of it, less what the later closes need.
 */
import type { MonitorOptions } from '../metrics/index.js'
import { closestName } from '../options.js'
import { type Duration, toMs, toTimerMs } from '../time.js'

/** The server's configuration. */
export interface ServerConfig {
  port: number
  host: string
  redisUrl: string | undefined
  /** NATS server URL(s) for the agents' bus (NATS_URL); wins over Redis for the bus. */
  natsUrl: string | undefined
  /** JetStream stream of the agents' bus (NATS_STREAM). */
  natsStream: string
  /** PostgreSQL for the catalogue (DATABASE_URL); undefined: an in-memory PGlite. */
  databaseUrl: string | undefined
  cacheDefaultTtl: Duration
  cacheMaxSize: number
  /** L1 bytes (CACHE_MAX_MB, in MiB). */
  cacheMaxBytes: number
  enableCompression: boolean
  minCompressionSize: number
  invalidateToken: string | undefined
  /** Bearer token the read endpoints require (METRICS_TOKEN); undefined: public. */
  metricsToken: string | undefined
  /** Simulated latency (ms) added to each database call, so the caches have something to save. */
  backendLatencyMs: number
  /** The monitor's settings (PERFORMANCE_MONITORING_ENABLED, METRICS_COLLECTION_INTERVAL). */
  monitor: Pick<MonitorOptions, 'enabled' | 'collectInterval'>
  /** Whole-request deadline in ms (REQUEST_TIMEOUT). */
  requestTimeoutMs: number
  /** Inactivity deadline of a connection with a request open, in ms (CONNECTION_TIMEOUT). */
  connectionTimeoutMs: number
  /** Idle keep-alive connections are closed after this many ms (KEEP_ALIVE_TIMEOUT). */
  keepAliveTimeoutMs: number
  /** Connections beyond this many are refused (MAX_CONNECTIONS). */
  maxConnections: number
  /** A graceful close that takes longer is forced, in ms (SHUTDOWN_TIMEOUT). */
  shutdownTimeoutMs: number
}

type Env = Record<string, string | undefined>

/** Every variable the server reads (for the misspelling warning). */
export const KNOWN_VARIABLES = [
  'PORT',
  'HOST',
  'REDIS_URL',
  'NATS_URL',
  'NATS_STREAM',
  'CACHE_DEFAULT_TTL',
  'CACHE_MAX_SIZE',
  'CACHE_MAX_MB',
  'ENABLE_COMPRESSION',
  'MIN_COMPRESSION_SIZE',
  'INVALIDATE_TOKEN',
  'DATABASE_URL',
  'METRICS_TOKEN',
  'BACKEND_LATENCY_MS',
  'PERFORMANCE_MONITORING_ENABLED',
  'METRICS_COLLECTION_INTERVAL',
  'REQUEST_TIMEOUT',
  'CONNECTION_TIMEOUT',
  'KEEP_ALIVE_TIMEOUT',
  'MAX_CONNECTIONS',
  'SHUTDOWN_TIMEOUT',
  'SERVER_HEAP_MB',
] as const

function raw(env: Env, name: string): string | undefined {
  const v = env[name]
  return v === undefined || v === '' ? undefined : v
}

function int(env: Env, name: string, def: number, min: number, max: number): number {
  const value = raw(env, name)
  if (value === undefined) return def
  const n = Number(value)
  if (!/^\s*\d+\s*$/.test(value) || !Number.isInteger(n) || n < min || n > max) {
    throw new RangeError(
      `${name} must be an integer from ${min} to ${max}; received ${JSON.stringify(value)}`,
    )
  }
  return n
}

function bool(env: Env, name: string, def: boolean): boolean {
  const value = raw(env, name)
  if (value === undefined) return def
  const v = value.trim().toLowerCase()
  if (['true', '1', 'yes', 'on'].includes(v)) return true
  if (['false', '0', 'no', 'off'].includes(v)) return false
  throw new TypeError(`${name} must be true or false; received ${JSON.stringify(value)}`)
}

/**
 * A duration in seconds (`30`) or with a unit (`30s`, `5m`), greater than 0; returns what was
 * given as a Duration (a plain number of seconds becomes milliseconds).
 */
function duration(env: Env, name: string, def: Duration, timer: boolean): Duration {
  const value = raw(env, name)
  if (value === undefined) return def
  const d: Duration = /^\s*\d+(\.\d+)?\s*$/.test(value) ? Number(value) * 1000 : (value.trim() as Duration)
  const what = `${name} (seconds, or a duration such as 30s or 5m)`
  const ms = timer ? toTimerMs(d, what) : toMs(d, what)
  if (ms <= 0) throw new RangeError(`${name} must be greater than 0; received ${JSON.stringify(value)}`)
  return d
}

function timerMs(env: Env, name: string, def: Duration): number {
  return toTimerMs(duration(env, name, def, true), name)
}

// RFC 1123 host names: dot-separated labels of letters, digits and inner hyphens
const HOSTNAME =
  /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*\.?$/i
// IPv4, or IPv6 (hex groups and colons, optionally an embedded IPv4 tail)
const IP = /^(\d{1,3}(\.\d{1,3}){3}|[0-9a-f:]*:[0-9a-f:.]*)$/i

function host(env: Env): string {
  const value = raw(env, 'HOST')
  if (value === undefined) return '127.0.0.1'
  if (!IP.test(value) && !HOSTNAME.test(value)) {
    throw new TypeError(`HOST must be an IP address or a host name; received ${JSON.stringify(value)}`)
  }
  return value
}

/** A bearer token of at least 16 characters, or undefined when the variable is unset. */
function secret(env: Env, name: string): string | undefined {
  const token = raw(env, name)
  if (token !== undefined && token.length < 16) {
    throw new TypeError(`${name} must be at least 16 characters; received ${token.length}`)
  }
  return token
}

/** Reads the configuration; throws on the first bad value, naming the variable. */
export function loadConfig(env: Env = process.env): ServerConfig {
  const redisUrl = raw(env, 'REDIS_URL')
  if (redisUrl !== undefined && !/^rediss?:\/\//.test(redisUrl)) {
    throw new TypeError(
      `REDIS_URL must start with redis:// or rediss://; received ${JSON.stringify(redisUrl)}`,
    )
  }
  const natsUrl = raw(env, 'NATS_URL')
  if (natsUrl !== undefined && !natsUrl.split(',').every((u) => /^(nats|tls):\/\/\S+$/.test(u.trim()))) {
    throw new TypeError(
      `NATS_URL must be nats:// or tls:// URLs, comma-separated; received ${JSON.stringify(natsUrl)}`,
    )
  }
  const natsStream = raw(env, 'NATS_STREAM') ?? 'hotpath_gateway'
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(natsStream)) {
    throw new TypeError(
      `NATS_STREAM must be 1-64 letters, digits, '_' or '-'; received ${JSON.stringify(natsStream)}`,
    )
  }
  const databaseUrl = raw(env, 'DATABASE_URL')
  if (databaseUrl !== undefined && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new TypeError(
      `DATABASE_URL must start with postgres:// or postgresql://; received ${JSON.stringify(databaseUrl)}`,
    )
  }
  const token = secret(env, 'INVALIDATE_TOKEN')
  const metricsToken = secret(env, 'METRICS_TOKEN')
  return {
    port: int(env, 'PORT', 3000, 0, 65535),
    host: host(env),
    redisUrl,
    natsUrl,
    natsStream,
    databaseUrl,
    cacheDefaultTtl: duration(env, 'CACHE_DEFAULT_TTL', '5m', false),
    cacheMaxSize: int(env, 'CACHE_MAX_SIZE', 10_000, 1, 10_000_000),
    cacheMaxBytes: int(env, 'CACHE_MAX_MB', 64, 1, 1_000_000) * 1024 * 1024,
    enableCompression: bool(env, 'ENABLE_COMPRESSION', true),
    minCompressionSize: int(env, 'MIN_COMPRESSION_SIZE', 1024, 0, 100 * 1024 * 1024),
    invalidateToken: token,
    metricsToken,
    backendLatencyMs: int(env, 'BACKEND_LATENCY_MS', 40, 0, 60_000),
    monitor: {
      enabled: bool(env, 'PERFORMANCE_MONITORING_ENABLED', true),
      collectInterval: duration(env, 'METRICS_COLLECTION_INTERVAL', '10s', true),
    },
    requestTimeoutMs: timerMs(env, 'REQUEST_TIMEOUT', '30s'),
    connectionTimeoutMs: timerMs(env, 'CONNECTION_TIMEOUT', '60s'),
    keepAliveTimeoutMs: timerMs(env, 'KEEP_ALIVE_TIMEOUT', '72s'),
    maxConnections: int(env, 'MAX_CONNECTIONS', 4096, 1, 1_000_000),
    shutdownTimeoutMs: timerMs(env, 'SHUTDOWN_TIMEOUT', '10s'),
  }
}

/**
 * Warnings for variables that look like a misspelling of one the server reads (`CACHE_DEFALT_TTL`,
 * `REDIS_ULR`) or that use a `HOTPATH_` prefix the server does not read: a typo would otherwise
 * silently leave the default in place.
 */
export function unknownVariableWarnings(env: Env = process.env): string[] {
  const warnings: string[] = []
  const known: readonly string[] = KNOWN_VARIABLES
  for (const name of Object.keys(env)) {
    if (known.includes(name)) continue
    const near = closestName(name, known)
    // same first word (CACHE_, REDIS_, ...): unrelated variables of the shell stay quiet
    if (near !== undefined && near.split('_')[0] === name.split('_')[0])
      warnings.push(`${name} is not read by the server; did you mean ${near}?`)
    else if (name.startsWith('HOTPATH_')) warnings.push(`${name} is not read by the server`)
  }
  return warnings
}
