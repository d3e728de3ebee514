/**
 * What a shared cache may store, and for how long: pure functions of the request and the
 * response, each rule citing the RFC 9111 section it applies (as undici's `canCacheResponse`).
 */
import { type Directives, parseCacheControl, seconds } from '../http.js'

/** The parts of an exchange that decide whether it is storable. */
export interface Exchange {
  method: string
  /** The request said `Cache-Control: no-store`. */
  requestNoStore: boolean
  /** The request carried Authorization or Cookie. */
  credentials: boolean
  /** The key includes the identity (`perIdentity`), so the entry is not shared. */
  identityKeyed: boolean
  status: number
  /** Response headers (lowercase names). */
  headers: Record<string, unknown>
  /** The payload as Fastify hands it to onSend. */
  payload: unknown
}

/** Limits from the options. */
export interface StoreLimits {
  statuses: ReadonlySet<number>
  maxBodyBytes: number
}

/** Why the response cannot be stored, or undefined when it can (a reason becomes a bypass stat). */
export function unstorableReason(x: Exchange, limits: StoreLimits, cc: Directives): string | undefined {
  // 9111 3: only a method the cache understands (GET) and a final status it is configured for
  if (x.method !== 'GET') return 'method'
  // 9111 5.2.1.5: request no-store
  if (x.requestNoStore) return 'request-no-store'
  if (!limits.statuses.has(x.status)) return `status-${x.status}`
  // per-user state must never be replayed to another client (9111 7.3 on Set-Cookie)
  if (x.headers['set-cookie'] !== undefined) return 'set-cookie'
  if (x.headers['content-encoding'] !== undefined) return 'already-encoded'
  // 9111 3.3/3.4: partial content is not stored here
  if (x.headers['content-range'] !== undefined) return 'range'
  // 9111 5.2.2.5 no-store, 5.2.2.7 private (a shared cache), 5.2.2.4 no-cache (we never revalidate)
  if (cc.has('no-store')) return 'no-store'
  if (cc.has('private')) return 'private'
  if (cc.has('no-cache')) return 'no-cache'
  // 9110 12.5.5: Vary: * never matches a later request
  if (
    String(x.headers.vary ?? '')
      .split(',')
      .some((v) => v.trim() === '*')
  )
    return 'vary-star'
  // 9111 3.5: a request with Authorization only when the response says public / s-maxage
  if (x.credentials && !x.identityKeyed && !cc.has('public') && !cc.has('s-maxage')) return 'credentials'
  if (typeof x.payload !== 'string' && !Buffer.isBuffer(x.payload)) return 'stream'
  const size = typeof x.payload === 'string' ? Buffer.byteLength(x.payload) : x.payload.length
  if (size > limits.maxBodyBytes) return 'too-large'
  return undefined
}

/** True when the exchange may be stored (RFC 9111 section 3). */
export function storable(x: Exchange, limits: StoreLimits): boolean {
  return (
    unstorableReason(x, limits, parseCacheControl(x.headers['cache-control'] as string | undefined)) ===
    undefined
  )
}

/**
 * The freshness lifetime in ms still left when the response is stored: s-maxage, else max-age
 * (9111 4.2.1), else the route's TTL; minus the origin's Age (9111 4.2.3), so `max-age=3` with
 * `Age: 2` is fresh for 1 s more, not 3.
 */
export function freshnessLeftMs(cc: Directives, originAgeS: number, routeTtlMs: number): number {
  const lifetimeS = seconds(cc, 's-maxage') ?? seconds(cc, 'max-age')
  const lifetimeMs = lifetimeS === undefined ? routeTtlMs : lifetimeS * 1000
  return Math.max(0, lifetimeMs - originAgeS * 1000)
}

/** The origin's Age header in seconds (9111 5.1: a non-negative integer; anything else is 0). */
export function originAge(value: unknown): number {
  const s = Array.isArray(value) ? String(value[0]) : String(value ?? '')
  return /^\d+$/.test(s) ? Number(s) : 0
}

/** Response headers that belong to one request and are never stored or replayed (issue: RateLimit-* leaked). */
export function perRequestHeader(name: string): boolean {
  return (
    name.startsWith('ratelimit') ||
    name.startsWith('x-ratelimit') ||
    name === 'retry-after' ||
    name === 'x-request-id' ||
    name === 'request-id' ||
    name === 'x-cache'
  )
}
