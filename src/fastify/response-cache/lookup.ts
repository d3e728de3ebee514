/**
 * The request side of the response cache (undici's interceptor/cache.js): find the stored
 * response, decide freshness (fresh, stale-while-revalidate, stale-if-error), serve it, join a
 * flight of identical misses or lead one, and answer If-None-Match on unsafe methods with 412.
 */
import type { FastifyReply, FastifyRequest } from 'fastify'
import { etagMatches, parseCacheControl, parseEtagList } from '../http.js'
import type { HotpathRequestState } from '../request-state.js'
import { NOT_IN_L1, REFRESH_HEADER, type ResponseCache, VARIANT_NOT_IN_L1 } from './core.js'
import { type DirectHits, writeDirect } from './direct.js'
import type { CachePolicy } from './routes.js'
import type { CacheRequest } from './state.js'
import {
  allEtags,
  bodyFor,
  byteLength,
  etagFor,
  hitHeaderList,
  type Stored,
  servedEncoding,
  setHeaders,
} from './stored.js'

/** What onRequest does next: continue to the handler, or stop (the reply was sent). */
export type Next = 'continue' | 'sent'

/**
 * onRequest for a GET/HEAD on a cached route: serve a hit, join a flight, or become the leader
 * of a miss. An L1 hit is answered synchronously: no promise, no hashing. `direct`: the route's
 * permission to write fresh hits straight to the response (direct.ts).
 */
export function lookupRequest(
  rc: ResponseCache,
  request: FastifyRequest,
  reply: FastifyReply,
  state: HotpathRequestState,
  route: string,
  policy: CachePolicy,
  direct?: DirectHits,
): Next | Promise<Next> {
  for (const h of rc.bypassHeaders) {
    if (request.headers[h] !== undefined) {
      rc.bypass(route, `header:${h}`)
      return 'continue'
    }
  }
  const cc = request.headers['cache-control']
  const identity = policy.perIdentity?.(request)
  const { key, path } = rc.keyOf(request, policy, identity)
  const c: CacheRequest = {
    policy,
    route,
    key,
    path,
    leader: undefined,
    stale: undefined,
    identityKeyed: identity !== undefined,
    start: 0,
    final: false,
    noStore: cc !== undefined && parseCacheControl(cc).has('no-store'),
    refresh: request.headers[REFRESH_HEADER] === rc.refreshToken,
  }
  state.cache = c
  if (
    identity === undefined &&
    (request.headers.authorization !== undefined || request.headers.cookie !== undefined)
  ) {
    // a shared entry is never served to a request with credentials; the response may still be
    // stored for everybody if it says public / s-maxage (checked in onSend)
    rc.bypass(route, 'credentials')
    return 'continue'
  }
  if (c.refresh) return joinOrLead(rc, request, reply, state, c)
  if (rc.passThrough(key)) {
    rc.bypass(route, 'hit-for-miss')
    return 'continue'
  }
  const l1 = rc.lookupSync(request, key)
  let found: Promise<Stored | undefined>
  if (l1 === NOT_IN_L1 || l1 === VARIANT_NOT_IN_L1) found = rc.lookupAfterSync(request, key, l1)
  else {
    if (decide(rc, request, reply, state, c, l1, direct)) return 'sent'
    if (!rc.cache.hasL2) return joinOrLead(rc, request, reply, state, c)
    found = rc.lookup(request, key)
  }
  return found.then((stored) =>
    stored !== undefined && decide(rc, request, reply, state, c, stored, direct)
      ? 'sent'
      : joinOrLead(rc, request, reply, state, c),
  )
}

/** Serves a fresh or stale-while-revalidate hit (true); remembers a stale-if-error copy. */
function decide(
  rc: ResponseCache,
  request: FastifyRequest,
  reply: FastifyReply,
  state: HotpathRequestState,
  c: CacheRequest,
  stored: Stored,
  direct: DirectHits | undefined,
): boolean {
  const now = rc.clock.now()
  if (now < stored.freshUntil) {
    serveFromCache(rc, request, reply, state, c, stored, 'hit', direct)
    return true
  }
  if (now < stored.swrUntil) {
    refreshInBackground(rc, request, c.key)
    serveFromCache(rc, request, reply, state, c, stored, 'stale')
    return true
  }
  if (now < stored.sieUntil) c.stale = stored
  return false
}

/** A miss: wait for an identical request in flight, or lead (run the handler, store in onSend). */
function joinOrLead(
  rc: ResponseCache,
  request: FastifyRequest,
  reply: FastifyReply,
  state: HotpathRequestState,
  c: CacheRequest,
): Next | Promise<Next> {
  c.start = performance.now()
  if (rc.coalesceMs <= 0 || request.method !== 'GET') return handlerRuns(rc, c)
  const key = c.key
  const flight = rc.flights.get(key)
  if (flight !== undefined && !c.refresh) return follow(rc, request, reply, state, c, flight)
  handlerRuns(rc, c)
  let resolve!: (v: boolean) => void
  const p = new Promise<boolean>((r) => {
    resolve = r
  })
  rc.flights.set(key, p)
  c.leader = (v: boolean) => {
    if (rc.flights.get(key) === p) rc.flights.delete(key)
    c.leader = undefined
    resolve(v)
  }
  return 'continue'
}

/**
 * Counts the miss of a request the handler will answer. A coalesced request is counted when it
 * is served (`coalesced`), and the cache's own background refresh is no client's lookup
 * (regression: both were counted as misses too: a coalesced follower the client saw as HIT, and
 * the refresh each stale-while-revalidate answer started).
 */
function handlerRuns(rc: ResponseCache, c: CacheRequest): 'continue' {
  if (!c.refresh) rc.stats(c.route).misses++
  return 'continue'
}

/** Waits for the leader; serves what it stored, or runs the handler when it stored nothing. */
async function follow(
  rc: ResponseCache,
  request: FastifyRequest,
  reply: FastifyReply,
  state: HotpathRequestState,
  c: CacheRequest,
  flight: Promise<boolean>,
): Promise<Next> {
  let timer: unknown
  const ok = await Promise.race([
    flight,
    new Promise<boolean>((r) => {
      timer = rc.clock.setTimeout(() => r(false), rc.coalesceMs)
    }),
  ])
  rc.clock.clearTimeout(timer)
  // a leader that vanished (its client aborted before onSend) never settles: the first follower
  // that times out drops the flight, so later requests lead instead of waiting again
  if (!ok && rc.flights.get(c.key) === flight) rc.flights.delete(c.key)
  // the leader's response could not be stored: this request runs the handler itself (it cannot
  // be given another client's response); later ones pass through without waiting (hit-for-miss)
  if (!ok) return handlerRuns(rc, c)
  const stored = await rc.lookup(request, c.key)
  if (stored === undefined) return handlerRuns(rc, c)
  rc.stats(c.route).coalesced++
  serveFromCache(rc, request, reply, state, c, stored, 'coalesced')
  return 'sent'
}

/**
 * Starts a background refresh of a stale entry, once per key per window: a refresh already
 * running, or a miss in flight for the key, is joined instead. The refresh carries the
 * headers of the request that found the entry stale (its identity included: a per-identity
 * entry is refreshed for that identity, under that identity's key).
 */
function refreshInBackground(rc: ResponseCache, request: FastifyRequest, key: string): void {
  const app = rc.app
  if (app === undefined || rc.refreshing.has(key) || rc.flights.has(key)) return
  rc.refreshing.add(key)
  const headers: Record<string, string> = {}
  for (const [name, value] of Object.entries(request.headers)) {
    if (typeof value === 'string' && !SKIP_ON_REFRESH.has(name)) headers[name] = value
  }
  headers[REFRESH_HEADER] = rc.refreshToken
  app
    .inject({ method: 'GET', url: request.url, headers })
    .then(
      (res) => {
        if (res.statusCode >= 500)
          rc.log?.warn(
            { url: request.url, status: res.statusCode },
            'hotpath: background revalidation failed',
          )
      },
      (err: unknown) => rc.log?.warn({ err, url: request.url }, 'hotpath: background revalidation failed'),
    )
    .finally(() => rc.refreshing.delete(key))
}

const SKIP_ON_REFRESH = new Set([
  'content-length',
  'transfer-encoding',
  'connection',
  'if-none-match',
  'if-modified-since',
  'cache-control',
  REFRESH_HEADER,
])

/**
 * Answers from a stored response (fresh hit, SWR stale, coalesced follower): 304 when
 * If-None-Match matches. A fresh 200 for a GET goes straight to the response where the route
 * permits it (`direct`, direct.ts), otherwise through `reply.send`.
 */
export function serveFromCache(
  rc: ResponseCache,
  request: FastifyRequest,
  reply: FastifyReply,
  state: HotpathRequestState,
  c: CacheRequest,
  stored: Stored,
  outcome: 'hit' | 'stale' | 'coalesced',
  direct?: DirectHits,
): void {
  const s = rc.stats(c.route)
  if (outcome === 'stale') s.staleServes++
  else if (outcome === 'hit') s.hits++
  s.latencySavedMs += stored.cost
  state.outcome = outcome
  const enc = servedEncoding(stored, rc.encodingFor(request, stored))
  const head = hitHeaderList(stored, enc, outcome === 'stale' ? 'STALE' : 'HIT', rc.clock.now())
  const inm = request.headers['if-none-match']
  const body = bodyFor(stored, enc)
  if (
    direct !== undefined &&
    inm === undefined &&
    stored.status === 200 &&
    request.method === 'GET' &&
    direct.permits(request, reply)
  ) {
    const bytes = byteLength(body)
    if (writeDirect(reply, head, body, bytes)) {
      s.bytesServed += bytes
      return
    }
  }
  setHeaders(reply, head)
  if (inm !== undefined && etagMatches(parseEtagList(inm), etagFor(stored.etag, enc))) {
    s.notModified++
    reply.removeHeader('content-encoding')
    reply.code(304).send()
    return
  }
  // a HEAD answer carries no body (regression: its length was counted as served)
  if (request.method !== 'HEAD') s.bytesServed += byteLength(body)
  if (stored.status !== 200) reply.code(stored.status)
  reply.send(body)
}

/**
 * 412 for an unsafe method whose If-None-Match matches the URL's cached representation (RFC 9110
 * 13.1.2). `policy` is the GET route's (by route config or by the `routes` patterns).
 */
export async function preconditionForUnsafe(
  rc: ResponseCache,
  request: FastifyRequest,
  reply: FastifyReply,
  state: HotpathRequestState,
  policy: CachePolicy,
): Promise<Next> {
  const inm = request.headers['if-none-match']
  if (typeof inm !== 'string') return 'continue'
  const { key } = rc.keyOf(request, policy, policy.perIdentity?.(request))
  const stored = await rc.lookup(request, key)
  if (stored === undefined) return 'continue'
  const list = parseEtagList(inm)
  if (list === '*' || allEtags(stored.etag).some((e) => etagMatches(list, e))) {
    state.outcome = 'precondition-failed'
    reply
      .code(412)
      .send({ error: 'Precondition Failed', message: 'If-None-Match matched the current representation' })
    return 'sent'
  }
  return 'continue'
}
