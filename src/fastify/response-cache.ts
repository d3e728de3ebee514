/**
 * The response cache: a shared HTTP cache (RFC 9111) inside Fastify, backed by a hotpath cache
 * (so it is multi-tier and invalidated across instances). It stores each encoding's bytes once
 * (a hit costs no compression), answers conditional requests, coalesces identical concurrent
 * misses, serves stale-while-revalidate and stale-if-error, and keeps per-route stats.
 *
 * The checklist it follows is in DESIGN.md; each point has a test in
 * test/integration/fastify/response-cache.test.ts.
 */

import { createHash } from 'node:crypto'
import { brotliCompressSync, constants, gzipSync } from 'node:zlib'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { Cache } from '../cache/index.js'
import { type Duration, toMs } from '../time.js'
import {
  compressible,
  type Encoding,
  etagMatches,
  negotiateEncoding,
  normalizeUrl,
  parseCacheControl,
  parseEtagList,
  seconds,
  storableHeaders,
} from './http.js'
import { routeConfig } from './route.js'

/** Per-route response-cache settings (route `config.cache`, or a value in `routes`). */
export interface RouteCacheConfig {
  /** Freshness. */
  ttl: Duration
  /** Key responses per identity (e.g. a user id from the verified token). Requests with Authorization or Cookie are cached only with this, or when the response is public / s-maxage. */
  perIdentity?: (request: FastifyRequest) => string | undefined
  /** Tags for invalidation by tag (besides the automatic url tag). */
  tags?: string[] | ((request: FastifyRequest) => string[])
  /** Only these query parameters are part of the key (others are ignored). @default all */
  queryKeys?: string[]
  /** Serve stale for this long after expiry while refreshing in the background. */
  staleWhileRevalidate?: Duration
  /** Serve stale for this long after expiry when the handler fails (5xx or throws). */
  staleIfError?: Duration
}

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
  /** Request headers that are part of every key (unkeyed inputs cannot poison other keys). @default ['host', 'x-forwarded-host', 'x-forwarded-proto'] */
  keyHeaders?: string[]
  /** Requests carrying any of these headers are not served from or stored in the cache. @default ['x-original-url', 'x-rewrite-url'] */
  bypassHeaders?: string[]
  /** Compress stored bodies above this size. @default 1024 */
  compressAbove?: number
  /** Brotli quality for stored bodies (compressed once per entry). @default 5 */
  brotliQuality?: number
}

/** A stored response. */
interface Stored {
  v: 1
  status: number
  headers: Record<string, string>
  body: Buffer
  br: Buffer | null
  gz: Buffer | null
  /** Worth compressing: each encoding is made on first demand and kept on the entry. */
  z: boolean
  /** How long the handler took to make it (ms): what each hit saves. */
  cost: number
  etag: string
  storedAt: number
  originAge: number
  freshUntil: number
  swrUntil: number
  sieUntil: number
}

/** Marker stored under the primary key when the response varies on request headers. */
interface VaryMarker {
  v: 1
  vary: string[]
}

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

interface Policy {
  ttlMs: number
  swrMs: number
  sieMs: number
  perIdentity: RouteCacheConfig['perIdentity']
  tags: RouteCacheConfig['tags']
  queryKeys: string[] | undefined
}

interface RequestState {
  policy: Policy
  route: string
  key: string
  path: string
  leader: ((stored: boolean) => void) | undefined
  stale: Stored | undefined
  identityKeyed: boolean
  start: number
  noStore: boolean
}

const STATE = Symbol('hotpath.responseCache')
const REFRESH_HEADER = 'x-hotpath-refresh'

function resolvePolicy(v: Duration | RouteCacheConfig, where: string): Policy {
  const c: RouteCacheConfig = typeof v === 'object' && v !== null ? v : { ttl: v }
  const ttlMs = toMs(c.ttl, `${where}.ttl`)
  if (ttlMs <= 0) throw new RangeError(`${where}.ttl must be greater than 0`)
  if (c.perIdentity !== undefined && typeof c.perIdentity !== 'function') {
    throw new TypeError(`${where}.perIdentity must be a function of the request`)
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

function globToRegExp(glob: string): RegExp {
  return new RegExp(`^${glob.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`)
}

/** The response cache of one Fastify instance. */
export class ResponseCache {
  private readonly patterns: Array<{ re: RegExp; policy: Policy; pattern: string }> = []
  private readonly statuses: Set<number>
  private readonly maxBody: number
  private readonly coalesceMs: number
  private readonly keyHeaders: string[]
  private readonly bypassHeaders: string[]
  private readonly compressAbove: number
  private readonly brQuality: number
  private readonly flights = new Map<string, Promise<boolean>>()
  private readonly routeStats = new Map<string, RouteCacheStats>()
  private readonly routePolicies = new WeakMap<object, Policy | null>()
  /** A secret only this instance knows: marks its own background refresh requests. */
  private readonly refreshToken = createHash('sha256')
    .update(String(Math.random()) + process.hrtime.bigint())
    .digest('hex')
  private app: FastifyInstance | undefined
  private readonly urlMemo = new Map<string, string>()
  private readonly encodingMemo = new Map<string, Encoding>()

  constructor(
    readonly cache: Cache,
    options: ResponseCacheOptions,
    private readonly ignoreTrailingSlash: boolean,
  ) {
    for (const [pattern, v] of Object.entries(options.routes ?? {})) {
      this.patterns.push({
        re: globToRegExp(pattern),
        policy: resolvePolicy(v, `responseCache.routes['${pattern}']`),
        pattern,
      })
    }
    const statuses = options.statuses ?? [200]
    for (const s of statuses) {
      if (!Number.isInteger(s) || s < 200 || s >= 500 || s === 206) {
        throw new RangeError(
          `responseCache.statuses may hold final 2xx-4xx statuses except 206; received ${s}`,
        )
      }
    }
    this.statuses = new Set(statuses)
    this.maxBody = options.maxBodyBytes ?? 1024 * 1024
    if (!Number.isInteger(this.maxBody) || this.maxBody <= 0)
      throw new RangeError(`responseCache.maxBodyBytes must be a positive integer`)
    this.coalesceMs =
      options.coalesce === false
        ? 0
        : toMs(options.coalesce?.timeout ?? '5s', 'responseCache.coalesce.timeout')
    this.keyHeaders = (options.keyHeaders ?? ['host', 'x-forwarded-host', 'x-forwarded-proto']).map((h) =>
      h.toLowerCase(),
    )
    this.bypassHeaders = (options.bypassHeaders ?? ['x-original-url', 'x-rewrite-url']).map((h) =>
      h.toLowerCase(),
    )
    this.compressAbove = options.compressAbove ?? 1024
    this.brQuality = options.brotliQuality ?? 5
  }

  /** Gives the cache its app (for background refreshes through inject). */
  bind(app: FastifyInstance): void {
    this.app = app
  }

  private stats(route: string): RouteCacheStats {
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

  private bypass(route: string, why: string): void {
    const s = this.stats(route)
    s.bypasses[why] = (s.bypasses[why] ?? 0) + 1
  }

  /** Per-route stats. */
  snapshot(): Record<string, RouteCacheStats> {
    return Object.fromEntries(this.routeStats)
  }

  private policyFor(request: FastifyRequest, path: string): Policy | undefined {
    const cfg = (routeConfig(request) as { cache?: Duration | RouteCacheConfig | false } | undefined)?.cache
    if (cfg === false) return undefined
    if (cfg !== undefined) {
      const holder = routeConfig(request) as object
      let p = this.routePolicies.get(holder)
      if (p === undefined) {
        p = resolvePolicy(cfg, `route ${routeConfig(request).url} config.cache`)
        this.routePolicies.set(holder, p)
      }
      return p ?? undefined
    }
    for (const { re, policy } of this.patterns) if (re.test(path)) return policy
    return undefined
  }

  /** normalizeUrl, memoized for the hot URLs (bounded: the memo is dropped when it fills). */
  private normalized(raw: string, policy: Policy): string {
    const memo = policy.queryKeys === undefined ? this.urlMemo : undefined
    const hit = memo?.get(raw)
    if (hit !== undefined) return hit
    const url = normalizeUrl(raw, {
      ignoreTrailingSlash: this.ignoreTrailingSlash,
      queryKeys: policy.queryKeys,
    })
    if (memo !== undefined) {
      if (memo.size >= 4096) memo.clear()
      memo.set(raw, url)
    }
    return url
  }

  /** The encoding for an Accept-Encoding value, memoized (clients send few distinct values). */
  private encodingFor(request: FastifyRequest, stored: Stored): Encoding {
    if (!stored.z) return 'identity'
    const header = request.headers['accept-encoding'] as string | undefined
    if (header === undefined) return 'identity'
    let enc = this.encodingMemo.get(header)
    if (enc === undefined) {
      enc = negotiateEncoding(header, ALL_ENCODINGS)
      if (this.encodingMemo.size >= 256) this.encodingMemo.clear()
      this.encodingMemo.set(header, enc)
    }
    return enc
  }

  private keyOf(
    request: FastifyRequest,
    policy: Policy,
    identity: string | undefined,
  ): { key: string; path: string } {
    const url = this.normalized(request.url, policy)
    const q = url.indexOf('?')
    const path = q < 0 ? url : url.slice(0, q)
    let key = `GET ${url}`
    for (const h of this.keyHeaders) {
      const v = request.headers[h]
      if (v !== undefined) key += `\n${h}:${String(v).toLowerCase()}`
    }
    if (identity !== undefined) key += `\nid:${identity}`
    // the raw key when it fits the cache's key limit; a hash of it otherwise
    return {
      key: key.length <= 900 ? `rc:${key}` : `rc#${createHash('sha1').update(key).digest('base64url')}`,
      path,
    }
  }

  private varyKey(base: string, request: FastifyRequest, names: string[]): string {
    let sig = ''
    for (const n of names) sig += `${n}=${String(request.headers[n] ?? '')}\n`
    return `${base}#${createHash('sha1').update(sig).digest('base64url')}`
  }

  private async lookup(request: FastifyRequest, key: string): Promise<Stored | undefined> {
    const first = await this.cache.get<Stored | VaryMarker>(key)
    if (first === undefined) return undefined
    if ('vary' in first) return this.cache.get<Stored>(this.varyKey(key, request, first.vary))
    return first
  }

  /** A stored response (or undefined) from L1 only, synchronously; `undefined` also when L1 has a vary marker whose variant is not in L1. */
  private lookupSync(request: FastifyRequest, key: string): Stored | undefined | typeof NOT_IN_L1 {
    const first = this.cache.getSync<Stored | VaryMarker>(key)
    if (first === undefined) return NOT_IN_L1
    if ('vary' in first)
      return this.cache.getSync<Stored>(this.varyKey(key, request, first.vary)) ?? NOT_IN_L1
    return first
  }

  /**
   * onRequest: serve a hit, join a flight, or become the leader of a miss. Returns SERVED when
   * the reply was sent, a promise when it had to wait (L2, a flight), undefined to continue.
   * An L1 hit is answered synchronously: no promise, no hashing.
   */
  onRequest(request: FastifyRequest, reply: FastifyReply): typeof SERVED_FLAG | Promise<unknown> | undefined {
    const method = request.method
    if (method !== 'GET' && method !== 'HEAD') {
      return request.headers['if-none-match'] === undefined
        ? undefined
        : this.preconditionForUnsafe(request, reply)
    }
    const q = request.url.indexOf('?')
    const rawPath = q < 0 ? request.url : request.url.slice(0, q)
    const policy = this.policyFor(request, rawPath)
    if (policy === undefined) return undefined
    const route = routeConfig(request).url ?? rawPath
    for (const h of this.bypassHeaders) {
      if (request.headers[h] !== undefined) {
        this.bypass(route, `header:${h}`)
        return undefined
      }
    }
    const cc = request.headers['cache-control']
    const hasAuth = request.headers.authorization !== undefined || request.headers.cookie !== undefined
    const identity = policy.perIdentity?.(request)
    const { key, path } = this.keyOf(request, policy, identity)
    const state: RequestState = {
      policy,
      route,
      key,
      path,
      leader: undefined,
      stale: undefined,
      identityKeyed: identity !== undefined,
      start: 0,
      noStore: cc !== undefined && parseCacheControl(cc).has('no-store'),
    }
    ;(request as unknown as Record<symbol, RequestState>)[STATE] = state
    if (hasAuth && identity === undefined) {
      // a shared entry is never served to a request with credentials; the response may still be
      // stored for everybody if it says public / s-maxage (checked in onSend)
      this.bypass(route, 'credentials')
      return undefined
    }
    if (request.headers[REFRESH_HEADER] === this.refreshToken) return undefined
    const l1 = this.lookupSync(request, key)
    if (l1 !== NOT_IN_L1) {
      const done = this.decide(request, reply, state, l1)
      if (done !== undefined) return done
      if (!this.cache.hasL2) return this.joinOrLead(request, reply, state)
    }
    return this.lookup(request, key).then(
      (stored) => this.decide(request, reply, state, stored) ?? this.joinOrLead(request, reply, state),
    )
  }

  /** Serves a fresh or stale-while-revalidate hit; remembers a stale-if-error copy; undefined on a miss. */
  private decide(
    request: FastifyRequest,
    reply: FastifyReply,
    state: RequestState,
    stored: Stored | undefined,
  ): typeof SERVED_FLAG | undefined {
    if (stored === undefined) return undefined
    const now = Date.now()
    if (now < stored.freshUntil) {
      this.serve(request, reply, stored, state, false)
      return SERVED_FLAG
    }
    if (now < stored.swrUntil) {
      this.refreshInBackground(request)
      this.serve(request, reply, stored, state, true)
      return SERVED_FLAG
    }
    if (now < stored.sieUntil) state.stale = stored
    return undefined
  }

  /** A miss: wait for an identical request in flight, or lead (run the handler, store in onSend). */
  private joinOrLead(
    request: FastifyRequest,
    reply: FastifyReply,
    state: RequestState,
  ): typeof SERVED_FLAG | Promise<unknown> | undefined {
    state.start = performance.now()
    this.stats(state.route).misses++
    if (this.coalesceMs <= 0 || request.method !== 'GET') return undefined
    const key = state.key
    const flight = this.flights.get(key)
    if (flight !== undefined) {
      return Promise.race([
        flight,
        new Promise<boolean>((r) => setTimeout(() => r(false), this.coalesceMs).unref()),
      ]).then(async (ok) => {
        if (!ok) return undefined
        const stored = await this.lookup(request, key)
        if (stored === undefined) return undefined
        this.stats(state.route).coalesced++
        this.serve(request, reply, stored, state, false)
        return SERVED_FLAG
      })
    }
    let resolve!: (v: boolean) => void
    const p = new Promise<boolean>((r) => {
      resolve = r
    })
    this.flights.set(key, p)
    state.leader = (v: boolean) => {
      if (this.flights.get(key) === p) this.flights.delete(key)
      state.leader = undefined
      resolve(v)
    }
    return undefined
  }

  private refreshInBackground(request: FastifyRequest): void {
    const app = this.app
    if (app === undefined) return
    const headers: Record<string, string> = { [REFRESH_HEADER]: this.refreshToken }
    for (const h of [...this.keyHeaders, 'accept', 'accept-language']) {
      const v = request.headers[h]
      if (typeof v === 'string') headers[h] = v
    }
    void app.inject({ method: 'GET', url: request.url, headers }).catch(() => {})
  }

  private serve(
    request: FastifyRequest,
    reply: FastifyReply,
    stored: Stored,
    state: RequestState,
    stale: boolean,
  ): void {
    const s = this.stats(state.route)
    if (stale) s.staleServes++
    else s.hits++
    s.latencySavedMs += stored.cost ?? 0
    const enc = this.encodingFor(request, stored)
    const etag = etagFor(stored.etag, enc)
    const age = Math.max(0, Math.floor((Date.now() - stored.storedAt) / 1000) + stored.originAge)
    reply.headers(stored.headers)
    reply.header('age', String(age))
    reply.header('etag', etag)
    reply.header('x-cache', stale ? 'STALE' : 'HIT')
    if (stored.z) reply.header('vary', addVary(stored.headers.vary, 'accept-encoding'))
    const body = this.encoded(stored, enc)
    if (enc !== 'identity') reply.header('content-encoding', enc)
    ;(reply as unknown as Record<symbol, boolean>)[SERVED] = true
    if (etagMatches(parseEtagList(request.headers['if-none-match'] as string | undefined), etag)) {
      s.notModified++
      reply.code(304)
      reply.removeHeader('content-encoding')
      reply.send()
      return
    }
    s.bytesServed += body.length
    reply.code(stored.status)
    reply.send(body)
  }

  /** 412 for an unsafe method whose If-None-Match matches the URL's cached representation. */
  private async preconditionForUnsafe(
    request: FastifyRequest,
    reply: FastifyReply,
  ): Promise<typeof SERVED_FLAG | undefined> {
    const inm = request.headers['if-none-match'] as string | undefined
    if (inm === undefined) return undefined
    const rawPath = request.url.split('?')[0] as string
    const policy = this.policyFor(request, rawPath) ?? this.patterns.find((p) => p.re.test(rawPath))?.policy
    if (policy === undefined) return undefined
    const { key } = this.keyOf(request, policy, policy.perIdentity?.(request))
    const stored = await this.lookup(request, key)
    if (stored === undefined) return undefined
    const list = parseEtagList(inm)
    const any = [etagFor(stored.etag, 'identity'), etagFor(stored.etag, 'br'), etagFor(stored.etag, 'gzip')]
    if (list === '*' || any.some((e) => etagMatches(list, e))) {
      ;(reply as unknown as Record<symbol, boolean>)[SERVED] = true
      reply
        .code(412)
        .send({ error: 'Precondition Failed', message: 'If-None-Match matched the current representation' })
      return SERVED_FLAG
    }
    return undefined
  }

  /** True when this reply was answered from the cache (or by a 412) in onRequest. */
  isServed(reply: FastifyReply): boolean {
    return (reply as unknown as Record<symbol, boolean>)[SERVED] === true
  }

  /** onSend: store a cacheable response, answer with the right encoding, settle the flight. */
  async onSend(request: FastifyRequest, reply: FastifyReply, payload: unknown): Promise<unknown> {
    if ((reply as unknown as Record<symbol, boolean>)[SERVED]) return payload
    const state = (request as unknown as Record<symbol, RequestState | undefined>)[STATE]
    if (state === undefined) {
      await this.invalidateAfterUnsafe(request, reply)
      return payload
    }
    // stale-if-error: the handler failed and a stale copy is allowed
    if (reply.statusCode >= 500 && state.stale !== undefined) {
      state.leader?.(false)
      const s = this.stats(state.route)
      s.staleServes++
      const stored = state.stale
      const enc = this.encodingFor(request, stored)
      reply.code(stored.status)
      reply.headers(stored.headers)
      reply.header('etag', etagFor(stored.etag, enc))
      reply.header('age', String(Math.floor((Date.now() - stored.storedAt) / 1000) + stored.originAge))
      reply.header('x-cache', 'STALE')
      if (enc !== 'identity') reply.header('content-encoding', enc)
      else reply.removeHeader('content-encoding')
      return this.encoded(stored, enc)
    }
    const why = this.unstorable(request, reply, payload, state)
    if (why !== undefined) {
      this.bypass(state.route, why)
      state.leader?.(false)
      return payload
    }
    const body = Buffer.isBuffer(payload) ? payload : Buffer.from(payload as string)
    const now = Date.now()
    const resCc = parseCacheControl(reply.getHeader('cache-control') as string | undefined)
    const ttlMs =
      (seconds(resCc, 's-maxage') ?? seconds(resCc, 'max-age') ?? state.policy.ttlMs / 1000) * 1000
    const headers = storableHeaders(reply.getHeaders() as Record<string, unknown>)
    const vary = (headers.vary ?? '')
      .split(',')
      .map((v) => v.trim().toLowerCase())
      .filter((v) => v !== '' && v !== 'accept-encoding')
    const stored: Stored = {
      v: 1,
      status: reply.statusCode,
      headers,
      body,
      br: null,
      gz: null,
      z: body.length >= this.compressAbove && compressible(headers['content-type']),
      cost: state.start > 0 ? performance.now() - state.start : 0,
      etag: createHash('sha1').update(body).digest('base64url').slice(0, 22),
      storedAt: now,
      originAge: Number(reply.getHeader('age') ?? 0) || 0,
      freshUntil: now + ttlMs,
      swrUntil: now + ttlMs + state.policy.swrMs,
      sieUntil: now + ttlMs + Math.max(state.policy.swrMs, state.policy.sieMs),
    }
    // only the encoding this client wants is made now; others on first demand (see encoded())
    const enc = this.encodingFor(request, stored)
    const out = this.encoded(stored, enc)
    const tags = [
      `url:${state.path}`,
      ...(typeof state.policy.tags === 'function' ? state.policy.tags(request) : (state.policy.tags ?? [])),
    ]
    const lifetime = stored.sieUntil - now
    try {
      if (vary.length > 0) {
        await this.cache.set(state.key, { v: 1, vary } satisfies VaryMarker, { ttl: lifetime, tags })
        await this.cache.set(this.varyKey(state.key, request, vary), stored, { ttl: lifetime, tags })
      } else {
        await this.cache.set(state.key, stored, { ttl: lifetime, tags })
      }
      this.stats(state.route).stores++
      state.leader?.(true)
    } catch {
      state.leader?.(false)
    }
    const etag = etagFor(stored.etag, enc)
    reply.header('etag', etag)
    reply.header('x-cache', 'MISS')
    if (stored.z) reply.header('vary', addVary(headers.vary, 'accept-encoding'))
    if (request.headers[REFRESH_HEADER] === this.refreshToken) return payload
    if (etagMatches(parseEtagList(request.headers['if-none-match'] as string | undefined), etag)) {
      reply.code(304)
      return ''
    }
    if (enc !== 'identity') reply.header('content-encoding', enc)
    return out
  }

  /** The body in `enc`, compressing it once on first demand (kept on the entry). */
  private encoded(stored: Stored, enc: Encoding): Buffer {
    if (enc === 'br') {
      if (stored.br === null) {
        stored.br = brotliCompressSync(stored.body, {
          params: {
            [constants.BROTLI_PARAM_QUALITY]: this.brQuality,
            [constants.BROTLI_PARAM_SIZE_HINT]: stored.body.length,
          },
        })
      }
      return stored.br
    }
    if (enc === 'gzip') {
      if (stored.gz === null) stored.gz = gzipSync(stored.body, { level: 6 })
      return stored.gz
    }
    return stored.body
  }

  /** Why a response cannot be stored, or undefined when it can. */
  private unstorable(
    request: FastifyRequest,
    reply: FastifyReply,
    payload: unknown,
    state: RequestState,
  ): string | undefined {
    if (request.method !== 'GET') return 'method'
    if (state.noStore) return 'request-no-store'
    if (!this.statuses.has(reply.statusCode)) return `status-${reply.statusCode}`
    if (reply.getHeader('set-cookie') !== undefined) return 'set-cookie'
    if (reply.getHeader('content-encoding') !== undefined) return 'already-encoded'
    if (reply.getHeader('content-range') !== undefined) return 'range'
    const cc = parseCacheControl(reply.getHeader('cache-control') as string | undefined)
    if (cc.has('no-store')) return 'no-store'
    if (cc.has('private')) return 'private'
    if (cc.has('no-cache')) return 'no-cache'
    const vary = String(reply.getHeader('vary') ?? '')
    if (vary.split(',').some((v) => v.trim() === '*')) return 'vary-star'
    const hasAuth = request.headers.authorization !== undefined || request.headers.cookie !== undefined
    if (hasAuth && !state.identityKeyed && !cc.has('public') && !cc.has('s-maxage')) return 'credentials'
    if (typeof payload !== 'string' && !Buffer.isBuffer(payload)) return 'stream'
    const size = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length
    if (size > this.maxBody) return 'too-large'
    return undefined
  }

  /** A successful unsafe method invalidates the cached representations of its URL. */
  private async invalidateAfterUnsafe(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const m = request.method
    if (m === 'GET' || m === 'HEAD' || m === 'OPTIONS') return
    if (reply.statusCode < 200 || reply.statusCode >= 400) return
    const path = normalizeUrl(request.url.split('?')[0] as string, {
      ignoreTrailingSlash: this.ignoreTrailingSlash,
    })
    await this.invalidateUrl(path)
  }

  /** Drops every cached representation of a path (all queries, identities and encodings). */
  async invalidateUrl(path: string): Promise<void> {
    await this.cache.deleteByTag(`url:${path}`)
  }

  /** Drops every cached response carrying one of `tags`. */
  async invalidateTags(tags: string[]): Promise<void> {
    if (tags.length > 0) await this.cache.deleteByTag(tags)
  }

  /** Settles the flight of a request that ended without onSend storing (errors, aborts). */
  settle(request: FastifyRequest): void {
    const state = (request as unknown as Record<symbol, RequestState | undefined>)[STATE]
    state?.leader?.(false)
  }
}

const SERVED = Symbol('hotpath.responseCache.served')
/** Returned by onRequest when the reply was sent. */
export const SERVED_FLAG: unique symbol = Symbol('hotpath.responseCache.sent')
const NOT_IN_L1: unique symbol = Symbol('hotpath.responseCache.notInL1')

const ALL_ENCODINGS: Encoding[] = ['br', 'gzip', 'identity']
function etagFor(base: string, enc: Encoding): string {
  return enc === 'identity' ? `"${base}"` : `"${base}-${enc === 'br' ? 'br' : 'gz'}"`
}

function addVary(existing: string | undefined, name: string): string {
  if (existing === undefined || existing === '') return name
  return existing
    .split(',')
    .map((v) => v.trim().toLowerCase())
    .includes(name)
    ? existing
    : `${existing}, ${name}`
}
