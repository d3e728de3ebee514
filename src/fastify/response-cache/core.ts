/**
 * The response cache of one Fastify instance: a shared HTTP cache (RFC 9111) backed by a hotpath
 * cache (so it is multi-tier and invalidated across instances). This file holds what the request
 * side (lookup.ts) and the response side (store.ts) share: options, keys, flights, the
 * hit-for-miss memory, SWR refreshes in progress and per-route stats.
 */
import { createHash } from 'node:crypto'
import type { FastifyBaseLogger, FastifyInstance, FastifyRequest } from 'fastify'
import type { Cache } from '../../cache/index.js'
import { assertKnownKeys } from '../../options.js'
import { type Clock, type Duration, systemClock, toMs, toTimerMs } from '../../time.js'
import { type Encoding, negotiateEncoding, normalizeUrl, type UrlOptions } from '../http.js'
import { type CachePolicy, type RouteCacheConfig, RoutePatterns } from './routes.js'
import type { StoreLimits } from './storable.js'
import { OFFERED, type Stored, type VaryMarker } from './stored.js'

/** Response cache options. */
export interface ResponseCacheOptions {
  /** URL patterns ('*' matches anything) with a TTL or settings, like the seeds' cache_patterns. */
  routes?: Record<string, Duration | RouteCacheConfig>
  /** Statuses that may be stored. @default [200] (206 and 5xx are never stored) */
  statuses?: number[]
  /** Largest body stored. @default 1 MiB */
  maxBodyBytes?: number
  /** Coalesce identical concurrent misses; waiters give up after `timeout`. @default { timeout: '5s' } */
  coalesce?: false | { timeout?: Duration }
  /**
   * After a response that cannot be stored (Set-Cookie, 5xx, private...), requests for that key
   * pass straight to the handler for this long without waiting on a flight (Varnish's
   * hit-for-miss; capped by the route's TTL). @default '5s'
   */
  hitForMiss?: Duration | false
  /** Request headers that are part of every key (unkeyed inputs cannot poison other keys). @default ['host', 'x-forwarded-host', 'x-forwarded-proto'] */
  keyHeaders?: string[]
  /** Requests carrying any of these headers are not served from or stored in the cache. @default ['x-original-url', 'x-rewrite-url'] */
  bypassHeaders?: string[]
  /** Compress stored bodies above this size (every offered encoding is made once, when stored). @default 1024 */
  compressAbove?: number
  /** Brotli quality for stored bodies. @default 5 */
  brotliQuality?: number
  /** The clock of freshness (tests pass a FakeClock, also given to the cache). @default the system clock */
  clock?: Clock
}

const KNOWN: readonly (keyof ResponseCacheOptions)[] = [
  'routes',
  'statuses',
  'maxBodyBytes',
  'coalesce',
  'hitForMiss',
  'keyHeaders',
  'bypassHeaders',
  'compressAbove',
  'brotliQuality',
  'clock',
]

/** Per-route counters. */
export interface RouteCacheStats {
  hits: number
  misses: number
  staleServes: number
  notModified: number
  coalesced: number
  stores: number
  bypasses: Record<string, number>
  bytesServed: number
  latencySavedMs: number
}

/** Marks the cache's own background refresh requests (with a secret only this instance knows). */
export const REFRESH_HEADER = 'x-hotpath-refresh'

/** The response cache of one Fastify instance. */
export class ResponseCache {
  readonly patterns: RoutePatterns
  readonly limits: StoreLimits
  readonly coalesceMs: number
  readonly hitForMissMs: number
  readonly keyHeaders: string[]
  readonly bypassHeaders: string[]
  readonly compressAbove: number
  readonly brotliQuality: number
  readonly clock: Clock
  /** Identical misses in flight: key -> settles true when the leader stored the response. */
  readonly flights = new Map<string, Promise<boolean>>()
  /** Keys whose last response could not be stored, until when (hit-for-miss). */
  readonly uncacheable = new Map<string, number>()
  /** Keys with a stale-while-revalidate refresh running (one per key per window). */
  readonly refreshing = new Set<string>()
  /** GET route policies by route pattern, for the If-None-Match check of unsafe methods. */
  readonly getPolicies = new Map<string, CachePolicy>()
  readonly refreshToken = createHash('sha256')
    .update(String(Math.random()) + process.hrtime.bigint())
    .digest('hex')
  /** Router options that shape the key (set when bound to the app). */
  urlOptions: UrlOptions = {}
  app: FastifyInstance | undefined
  log: FastifyBaseLogger | undefined
  private readonly routeStats = new Map<string, RouteCacheStats>()
  private readonly keyMemo = new Map<string, MemoKey>()
  private readonly encodingMemo = new Map<string, Encoding>()

  constructor(
    readonly cache: Cache,
    options: ResponseCacheOptions,
  ) {
    assertKnownKeys(options, KNOWN, 'responseCache')
    this.patterns = new RoutePatterns(options.routes ?? {})
    const statuses = options.statuses ?? [200]
    for (const s of statuses) {
      if (!Number.isInteger(s) || s < 200 || s >= 500 || s === 206) {
        throw new RangeError(
          `responseCache.statuses may hold final 2xx-4xx statuses except 206; received ${s}`,
        )
      }
    }
    const maxBodyBytes = options.maxBodyBytes ?? 1024 * 1024
    if (!Number.isInteger(maxBodyBytes) || maxBodyBytes <= 0)
      throw new RangeError(`responseCache.maxBodyBytes must be a positive integer; received ${maxBodyBytes}`)
    this.limits = { statuses: new Set(statuses), maxBodyBytes }
    if (options.coalesce !== undefined && options.coalesce !== false)
      assertKnownKeys(options.coalesce, ['timeout'], 'responseCache.coalesce')
    this.coalesceMs =
      options.coalesce === false
        ? 0
        : toTimerMs(options.coalesce?.timeout ?? '5s', 'responseCache.coalesce.timeout')
    this.hitForMissMs =
      options.hitForMiss === false ? 0 : toMs(options.hitForMiss ?? '5s', 'responseCache.hitForMiss')
    this.keyHeaders = (options.keyHeaders ?? ['host', 'x-forwarded-host', 'x-forwarded-proto']).map((h) =>
      h.toLowerCase(),
    )
    this.bypassHeaders = (options.bypassHeaders ?? ['x-original-url', 'x-rewrite-url']).map((h) =>
      h.toLowerCase(),
    )
    this.compressAbove = options.compressAbove ?? 1024
    if (!Number.isInteger(this.compressAbove) || this.compressAbove < 0)
      throw new RangeError(
        `responseCache.compressAbove must be an integer >= 0; received ${this.compressAbove}`,
      )
    this.brotliQuality = options.brotliQuality ?? 5
    if (!(this.brotliQuality >= 0 && this.brotliQuality <= 11))
      throw new RangeError(`responseCache.brotliQuality must be 0-11; received ${this.brotliQuality}`)
    this.clock = options.clock ?? systemClock
  }

  /** Gives the cache its app: background refreshes run through inject, the key follows its router options. */
  bind(app: FastifyInstance, urlOptions: UrlOptions): void {
    this.app = app
    this.log = app.log
    this.urlOptions = urlOptions
  }

  /** The stats of a route pattern. */
  stats(route: string): RouteCacheStats {
    let s = this.routeStats.get(route)
    if (s === undefined) {
      s = {
        hits: 0,
        misses: 0,
        staleServes: 0,
        notModified: 0,
        coalesced: 0,
        stores: 0,
        bypasses: {},
        bytesServed: 0,
        latencySavedMs: 0,
      }
      this.routeStats.set(route, s)
    }
    return s
  }

  /** Counts a bypass of a route by reason. */
  bypass(route: string, why: string): void {
    const s = this.stats(route)
    s.bypasses[why] = (s.bypasses[why] ?? 0) + 1
  }

  /** Per-route stats (keyed by route pattern). */
  snapshot(): Record<string, RouteCacheStats> {
    return Object.fromEntries(this.routeStats)
  }

  /** normalizeUrl (no memo: keyOf memoizes whole keys of the hot URLs). */
  normalized(raw: string, policy: CachePolicy): string {
    return normalizeUrl(raw, { ...this.urlOptions, queryKeys: policy.queryKeys })
  }

  /** The encoding for a request, memoized by Accept-Encoding value (clients send few distinct ones). */
  encodingFor(request: FastifyRequest, stored: Stored): Encoding {
    if (stored.br === null) return 'identity'
    const header = request.headers['accept-encoding']
    if (typeof header !== 'string') return 'identity'
    let enc = this.encodingMemo.get(header)
    if (enc === undefined) {
      enc = negotiateEncoding(header, OFFERED)
      if (this.encodingMemo.size >= 256) this.encodingMemo.clear()
      this.encodingMemo.set(header, enc)
    }
    return enc
  }

  /**
   * The primary key and the normalized path of a request. Memoized for the hot URLs by raw URL
   * and the key headers' values (bounded: the memo is dropped when it fills), so a hit reuses the
   * same key string, whose hash V8 has already computed.
   */
  keyOf(request: FastifyRequest, policy: CachePolicy, identity: string | undefined): KeyOf {
    const headers = request.headers
    const names = this.keyHeaders
    const memoizable = identity === undefined && policy.queryKeys === undefined
    if (memoizable) {
      // a hit compares the key headers' raw values with the ones the memo was made from: no
      // lowercasing or signature string per request
      const m = this.keyMemo.get(request.url)
      if (m !== undefined && sameValues(m.raw, headers, names)) return m
    }
    let sig = ''
    const raw: unknown[] = new Array(names.length)
    for (let i = 0; i < names.length; i++) {
      const h = names[i] as string
      const v = headers[h]
      raw[i] = v
      if (v !== undefined) sig += `\n${h}:${String(v).toLowerCase()}`
    }
    const url = this.normalized(request.url, policy)
    const q = url.indexOf('?')
    const path = q < 0 ? url : url.slice(0, q)
    let key = `GET ${url}${sig}`
    if (identity !== undefined) key += `\nid:${identity}`
    // the raw key when it fits the cache's key limit; a hash of it otherwise
    const out: MemoKey = {
      key: key.length <= 900 ? `rc:${key}` : `rc#${createHash('sha1').update(key).digest('base64url')}`,
      path,
      sig,
      raw,
    }
    if (memoizable) {
      if (this.keyMemo.size >= 1024) this.keyMemo.clear()
      this.keyMemo.set(request.url, out)
    }
    return out
  }

  /** The key of the variant selected by the request's values of the Vary headers. */
  varyKey(base: string, request: FastifyRequest, names: string[]): string {
    let sig = ''
    for (const n of names) sig += `${n}=${String(request.headers[n] ?? '')}\n`
    return `${base}#${createHash('sha1').update(sig).digest('base64url')}`
  }

  /** The stored response for a request (L1, then L2). */
  async lookup(request: FastifyRequest, key: string): Promise<Stored | undefined> {
    const first = await this.cache.get<Stored | VaryMarker>(key)
    if (first === undefined) return undefined
    if ('vary' in first) return this.cache.get<Stored>(this.varyKey(key, request, first.vary))
    return first
  }

  /**
   * The stored response from L1 only, synchronously; NOT_IN_L1 when L1 has nothing for the key,
   * VARIANT_NOT_IN_L1 when it has the key's Vary marker but not this request's variant.
   */
  lookupSync(request: FastifyRequest, key: string): Stored | L1Miss {
    const first = this.cache.getSync<Stored | VaryMarker>(key)
    if (first === undefined) return NOT_IN_L1
    if ('vary' in first)
      return this.cache.getSync<Stored>(this.varyKey(key, request, first.vary)) ?? VARIANT_NOT_IN_L1
    return first
  }

  /**
   * The stored response after `lookupSync` missed (`miss` says where): L2 for what L1 was asked
   * already, so each lookup is counted once in the cache's statistics (regression: an L1 miss was
   * counted by the synchronous read and again by the asynchronous one, halving the hit ratio).
   */
  async lookupAfterSync(request: FastifyRequest, key: string, miss: L1Miss): Promise<Stored | undefined> {
    const cache = this.cache
    if (miss === VARIANT_NOT_IN_L1) {
      const marker = cache.peek<Stored | VaryMarker>(key)
      if (marker === undefined || !('vary' in marker)) return this.lookup(request, key)
      return cache.getAfterSyncMiss<Stored>(this.varyKey(key, request, marker.vary))
    }
    const first = await cache.getAfterSyncMiss<Stored | VaryMarker>(key)
    if (first === undefined) return undefined
    if ('vary' in first) return cache.get<Stored>(this.varyKey(key, request, first.vary))
    return first
  }

  /** Whether the key was recently uncacheable (hit-for-miss): pass straight through. */
  passThrough(key: string): boolean {
    if (this.uncacheable.size === 0) return false
    const until = this.uncacheable.get(key)
    if (until === undefined) return false
    if (this.clock.now() < until) return true
    this.uncacheable.delete(key)
    return false
  }

  /** Remembers that a key's response could not be stored. */
  markUncacheable(key: string, policy: CachePolicy): void {
    if (this.hitForMissMs <= 0) return
    if (this.uncacheable.size >= 10_000) this.uncacheable.clear()
    this.uncacheable.set(key, this.clock.now() + Math.min(this.hitForMissMs, policy.ttlMs))
  }

  /** Drops every cached representation of a path (all queries, identities and encodings). */
  async invalidateUrl(path: string): Promise<void> {
    await this.cache.deleteByTag(`url:${normalizeUrl(path, this.urlOptions)}`)
  }

  /** Drops every cached response carrying one of `tags`. */
  async invalidateTags(tags: string[]): Promise<void> {
    if (tags.length > 0) await this.cache.deleteByTag(tags)
  }
}

/** A request's key, its normalized path, and the key headers' part of it. */
export interface KeyOf {
  readonly key: string
  readonly path: string
  readonly sig: string
}

/** A memoized key with the raw key-header values it was made from. */
interface MemoKey extends KeyOf {
  readonly raw: readonly unknown[]
}

/** Whether the request's key headers hold the same raw values as when `raw` was taken. */
function sameValues(
  raw: readonly unknown[],
  headers: FastifyRequest['headers'],
  names: readonly string[],
): boolean {
  for (let i = 0; i < names.length; i++) if (headers[names[i] as string] !== raw[i]) return false
  return true
}

/** Returned by lookupSync when L1 has nothing for the key. */
export const NOT_IN_L1: unique symbol = Symbol('hotpath.responseCache.notInL1')
/** Returned by lookupSync when L1 has the key's Vary marker but not the request's variant. */
export const VARIANT_NOT_IN_L1: unique symbol = Symbol('hotpath.responseCache.variantNotInL1')
/** What lookupSync returns when L1 cannot answer. */
export type L1Miss = typeof NOT_IN_L1 | typeof VARIANT_NOT_IN_L1
