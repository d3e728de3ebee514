/**
 * Route rules: which routes the response cache handles and how. A route's `config.hotpath.cache`
 * is resolved once, when the route is registered; the `routes` option's URL patterns are
 * compiled once and matched against the request path.
 */
import type { FastifyRequest } from 'fastify'
import { assertKnownKeys } from '../../options.js'
import { type Duration, toMs } from '../../time.js'

/** Per-route response-cache settings (route `config.hotpath.cache`, or a value in `routes`). */
export interface RouteCacheConfig {
  /** Freshness. */
  ttl: Duration
  /** Key responses per identity (e.g. a user id from the verified token). Requests with Authorization or Cookie are cached only with this, or when the response is public / s-maxage. */
  perIdentity?: (request: FastifyRequest) => string | undefined
  /** Tags for invalidation by tag (besides the automatic url tag). */
  tags?: string[] | ((request: FastifyRequest) => string[])
  /** Only these query parameters are part of the key (others are ignored). @default all */
  queryKeys?: string[]
  /** Serve stale for this long after expiry while refreshing in the background (once per key). */
  staleWhileRevalidate?: Duration
  /** Serve stale for this long after expiry when the handler fails (5xx or throws). */
  staleIfError?: Duration
}

const KNOWN: readonly (keyof RouteCacheConfig)[] = [
  'ttl',
  'perIdentity',
  'tags',
  'queryKeys',
  'staleWhileRevalidate',
  'staleIfError',
]

/** A resolved route policy. */
export interface CachePolicy {
  ttlMs: number
  swrMs: number
  sieMs: number
  perIdentity: RouteCacheConfig['perIdentity']
  tags: RouteCacheConfig['tags']
  queryKeys: string[] | undefined
}

/** Resolves a TTL or settings object into a policy; `where` names it in errors. */
export function resolveCachePolicy(v: Duration | RouteCacheConfig, where: string): CachePolicy {
  const c: RouteCacheConfig = typeof v === 'object' && v !== null ? v : { ttl: v }
  assertKnownKeys(c, KNOWN, where)
  const ttlMs = toMs(c.ttl, `${where}.ttl`)
  if (ttlMs <= 0) throw new RangeError(`${where}.ttl must be greater than 0; received ${String(c.ttl)}`)
  if (c.perIdentity !== undefined && typeof c.perIdentity !== 'function') {
    throw new TypeError(`${where}.perIdentity must be a function of the request`)
  }
  if (c.queryKeys !== undefined && !Array.isArray(c.queryKeys)) {
    throw new TypeError(`${where}.queryKeys must be an array of names`)
  }
  return {
    ttlMs,
    swrMs:
      c.staleWhileRevalidate === undefined
        ? 0
        : toMs(c.staleWhileRevalidate, `${where}.staleWhileRevalidate`),
    sieMs: c.staleIfError === undefined ? 0 : toMs(c.staleIfError, `${where}.staleIfError`),
    perIdentity: c.perIdentity,
    tags: c.tags,
    queryKeys: c.queryKeys,
  }
}

/** The `routes` option compiled: URL glob patterns ('*' matches anything) with their policies. */
export class RoutePatterns {
  private readonly list: Array<{ re: RegExp; policy: CachePolicy }> = []

  constructor(routes: Record<string, Duration | RouteCacheConfig>) {
    for (const [pattern, v] of Object.entries(routes)) {
      this.list.push({
        re: globToRegExp(pattern),
        policy: resolveCachePolicy(v, `responseCache.routes['${pattern}']`),
      })
    }
  }

  /** True when there are no patterns (routes without config then never reach the cache). */
  get empty(): boolean {
    return this.list.length === 0
  }

  /** The policy of the first pattern matching `path`, or undefined. */
  match(path: string): CachePolicy | undefined {
    for (const { re, policy } of this.list) if (re.test(path)) return policy
    return undefined
  }
}

function globToRegExp(glob: string): RegExp {
  return new RegExp(`^${glob.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`)
}
