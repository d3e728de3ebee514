/**
 * Configuration of the reference server from environment variables, with clear errors for bad
 * values (each names the variable, the value and what is expected).
 */
import { type Duration, toMs } from '../time.js'

/** The server's configuration. */
export interface ServerConfig {
  port: number
  host: string
  redisUrl: string | undefined
  cacheDefaultTtl: Duration
  cacheMaxSize: number
  enableCompression: boolean
  minCompressionSize: number
  invalidateToken: string | undefined
  /** Simulated backend latency (ms) — the demo data source is a slow backend on purpose. */
  backendLatencyMs: number
}

function int(
  env: Record<string, string | undefined>,
  name: string,
  def: number,
  min: number,
  max: number,
): number {
  const raw = env[name]
  if (raw === undefined || raw === '') return def
  const n = Number(raw)
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new RangeError(`${name} must be an integer from ${min} to ${max}; received ${JSON.stringify(raw)}`)
  }
  return n
}

function bool(env: Record<string, string | undefined>, name: string, def: boolean): boolean {
  const raw = env[name]
  if (raw === undefined || raw === '') return def
  const v = raw.trim().toLowerCase()
  if (['true', '1', 'yes', 'on'].includes(v)) return true
  if (['false', '0', 'no', 'off'].includes(v)) return false
  throw new TypeError(`${name} must be true or false; received ${JSON.stringify(raw)}`)
}

/** Reads the configuration; throws on the first bad value. */
export function loadConfig(env: Record<string, string | undefined> = process.env): ServerConfig {
  const ttlRaw = env.CACHE_DEFAULT_TTL
  let ttl: Duration = '5m'
  if (ttlRaw !== undefined && ttlRaw !== '') {
    ttl = /^\d+$/.test(ttlRaw) ? Number(ttlRaw) * 1000 : (ttlRaw as Duration)
    toMs(ttl, 'CACHE_DEFAULT_TTL (seconds, or a duration such as 5m)')
  }
  const redisUrl = env.REDIS_URL === '' ? undefined : env.REDIS_URL
  if (redisUrl !== undefined && !/^rediss?:\/\//.test(redisUrl)) {
    throw new TypeError(
      `REDIS_URL must start with redis:// or rediss://; received ${JSON.stringify(redisUrl)}`,
    )
  }
  const token = env.INVALIDATE_TOKEN === '' ? undefined : env.INVALIDATE_TOKEN
  if (token !== undefined && token.length < 16)
    throw new TypeError('INVALIDATE_TOKEN must be at least 16 characters')
  return {
    port: int(env, 'PORT', 3000, 0, 65535),
    host: env.HOST && env.HOST !== '' ? env.HOST : '127.0.0.1',
    redisUrl,
    cacheDefaultTtl: ttl,
    cacheMaxSize: int(env, 'CACHE_MAX_SIZE', 10_000, 1, 10_000_000),
    enableCompression: bool(env, 'ENABLE_COMPRESSION', true),
    minCompressionSize: int(env, 'MIN_COMPRESSION_SIZE', 1024, 0, 100 * 1024 * 1024),
    invalidateToken: token,
    backendLatencyMs: int(env, 'BACKEND_LATENCY_MS', 40, 0, 60_000),
  }
}
