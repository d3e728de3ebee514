/**
 * The response side of the response cache (undici's handler/cache-handler.js): store a storable
 * response with every offered encoding made once, serve stale-if-error when the handler failed,
 * settle the flight, and invalidate a URL after a successful unsafe method.
 */
import { createHash } from 'node:crypto'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { compressible, etagMatches, parseCacheControl, parseEtagList, storableHeaders } from '../http.js'
import type { HotpathRequestState } from '../request-state.js'
import type { ResponseCache } from './core.js'
import type { CacheRequest } from './state.js'
import { freshnessLeftMs, originAge, perRequestHeader, unstorableReason } from './storable.js'
import {
  bodyFor,
  byteLength,
  encodeVariants,
  etagFor,
  exact,
  type Stored,
  servedEncoding,
  type VaryMarker,
  writeHitHeaders,
} from './stored.js'

/** Reasons that come from the response (not the request): they make the key hit-for-miss. */
const RESPONSE_REASONS =
  /^(status-|set-cookie|already-encoded|range|no-store|private|no-cache|vary-star|stream|too-large)/

/** onSend on a cached GET/HEAD route: the payload to send (stored and encoded when it could be). */
export async function storeResponse(
  rc: ResponseCache,
  request: FastifyRequest,
  reply: FastifyReply,
  state: HotpathRequestState,
  c: CacheRequest,
  payload: unknown,
): Promise<unknown> {
  // stale-if-error: the handler failed and a stale copy is allowed
  if (reply.statusCode >= 500 && c.stale !== undefined) {
    c.leader?.(false)
    // the client gets the stale copy, not the miss it was counted as when the handler ran
    // (regression: a stale-if-error answer was counted as a miss and as a stale serve)
    const s = rc.stats(c.route)
    s.misses--
    s.staleServes++
    state.outcome = 'stale'
    c.final = true
    const stored = c.stale
    const enc = servedEncoding(stored, rc.encodingFor(request, stored))
    reply.code(stored.status)
    reply.removeHeader('content-length')
    reply.removeHeader('content-encoding')
    writeHitHeaders(reply, stored, enc, 'STALE', rc.clock.now())
    const body = bodyFor(stored, enc)
    // the stale body is served from the cache (regression: it was not counted in bytesServed)
    if (request.method !== 'HEAD') s.bytesServed += byteLength(body)
    return body
  }
  const headers = reply.getHeaders() as Record<string, unknown>
  const cc = parseCacheControl(headers['cache-control'] as string | undefined)
  const why = unstorableReason(
    {
      method: request.method,
      requestNoStore: c.noStore,
      credentials: request.headers.authorization !== undefined || request.headers.cookie !== undefined,
      identityKeyed: c.identityKeyed,
      status: reply.statusCode,
      headers,
      payload,
    },
    rc.limits,
    cc,
  )
  if (why !== undefined) {
    rc.bypass(c.route, why)
    if (RESPONSE_REASONS.test(why)) rc.markUncacheable(c.key, c.policy)
    c.leader?.(false)
    return payload
  }
  const stored = toStored(rc, c, reply, headers, cc, payload as string | Buffer)
  const out = bodyFor(stored, servedEncoding(stored, rc.encodingFor(request, stored)))
  await put(rc, request, c, stored)
  c.final = true
  const enc = servedEncoding(stored, rc.encodingFor(request, stored))
  const etag = etagFor(stored.etag, enc)
  reply.header('etag', etag)
  reply.header('x-cache', 'MISS')
  if (stored.varyOut !== null) reply.header('vary', stored.varyOut)
  if (c.refresh) return payload
  if (etagMatches(parseEtagList(request.headers['if-none-match'] as string | undefined), etag)) {
    reply.code(304)
    return ''
  }
  if (enc !== 'identity') {
    reply.header('content-encoding', enc)
    reply.removeHeader('content-length')
  }
  return out
}

/** Builds the stored representation: exact-size buffers, every offered encoding, freshness. */
function toStored(
  rc: ResponseCache,
  c: CacheRequest,
  reply: FastifyReply,
  headers: Record<string, unknown>,
  cc: ReturnType<typeof parseCacheControl>,
  payload: string | Buffer,
): Stored {
  const now = rc.clock.now()
  const body = typeof payload === 'string' ? payload : exact(payload)
  const kept = storableHeaders(headers)
  for (const name of Object.keys(kept)) if (perRequestHeader(name)) delete kept[name]
  const age = originAge(headers.age)
  const freshMs = freshnessLeftMs(cc, age, c.policy.ttlMs)
  const stored: Stored = {
    status: reply.statusCode,
    headers: kept,
    body,
    br: null,
    gz: null,
    zstd: null,
    cost: c.start > 0 ? performance.now() - c.start : 0,
    etag: createHash('sha1').update(body).digest('base64url').slice(0, 22),
    varyOut: null,
    storedAt: now,
    originAge: age,
    freshUntil: now + freshMs,
    swrUntil: now + freshMs + c.policy.swrMs,
    sieUntil: now + freshMs + Math.max(c.policy.swrMs, c.policy.sieMs),
  }
  if (body.length >= rc.compressAbove && compressible(kept['content-type'])) {
    encodeVariants(stored, typeof body === 'string' ? Buffer.from(body) : body, rc.brotliQuality)
  }
  return stored
}

/** Writes the entry (and its Vary marker) and settles the flight. */
async function put(
  rc: ResponseCache,
  request: FastifyRequest,
  c: CacheRequest,
  stored: Stored,
): Promise<void> {
  const vary = (stored.headers.vary ?? '')
    .split(',')
    .map((v) => v.trim().toLowerCase())
    .filter((v) => v !== '' && v !== 'accept-encoding')
  const tags = [
    `url:${c.path}`,
    ...(typeof c.policy.tags === 'function' ? c.policy.tags(request) : (c.policy.tags ?? [])),
  ]
  const ttl = Math.max(1, stored.sieUntil - stored.storedAt)
  try {
    if (vary.length > 0) {
      await rc.cache.set(c.key, { vary } satisfies VaryMarker, { ttl, tags })
      await rc.cache.set(rc.varyKey(c.key, request, vary), stored, { ttl, tags })
    } else {
      await rc.cache.set(c.key, stored, { ttl, tags })
    }
    rc.stats(c.route).stores++
    c.leader?.(true)
  } catch (err) {
    request.log.warn({ err, key: c.key }, 'hotpath: response cache could not store a response')
    c.leader?.(false)
  }
}

/** After a successful unsafe method: drop the cached representations of its URL. */
export async function invalidateAfterUnsafe(
  rc: ResponseCache,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<void> {
  const m = request.method
  if (m === 'GET' || m === 'HEAD' || m === 'OPTIONS') return
  if (reply.statusCode < 200 || reply.statusCode >= 400) return
  const q = request.url.indexOf('?')
  try {
    await rc.invalidateUrl(q < 0 ? request.url : request.url.slice(0, q))
  } catch (err) {
    request.log.warn({ err, url: request.url }, 'hotpath: invalidation after an unsafe method failed')
  }
}
