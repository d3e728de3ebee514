/**
 * The stored representation of a response and everything that reads it back: the encoded
 * variants (made once when the entry is stored, each in an exact-size buffer so the memory bound
 * counts what is really held), entity tags per encoding, and the one writer of the headers of
 * every answer that comes from the cache (fresh hit, stale-while-revalidate, stale-if-error,
 * coalesced follower).
 */
import * as zlib from 'node:zlib'
import type { FastifyReply } from 'fastify'
import type { Encoding } from '../http.js'

/** A stored response. Every buffer is exact-size: the cache's byte accounting sees all of it. */
export interface Stored {
  status: number
  headers: Record<string, string>
  /**
   * The identity body: the string the route serialized (Node writes a string body together with
   * the headers in one write, a Buffer with a second one), or the Buffer it sent.
   */
  body: string | Buffer
  /** Encoded variants (made when stored, only for a compressible body above the threshold). */
  br: Buffer | null
  gz: Buffer | null
  zstd: Buffer | null
  /** How long the handler took to make it (ms): what each hit saves. */
  cost: number
  etag: string
  /** `Vary` of an answer from the cache (accept-encoding added when there are variants), or null. */
  varyOut: string | null
  storedAt: number
  /** The origin's `Age` (seconds) when it was stored (RFC 9111 4.2.3). */
  originAge: number
  freshUntil: number
  swrUntil: number
  sieUntil: number
}

/** Marker stored under the primary key when the response varies on request headers. */
export interface VaryMarker {
  vary: string[]
}

type ZstdSync = (buf: Buffer, options?: object) => Buffer
/** zstd where the runtime can make it (Node >= 22.15); undefined on Node 20, which then offers br/gzip. */
const zstdCompressSync = (zlib as unknown as { zstdCompressSync?: ZstdSync }).zstdCompressSync

/** The encodings the response cache offers, best first. */
export const OFFERED: readonly Encoding[] =
  zstdCompressSync === undefined ? ['br', 'gzip', 'identity'] : ['br', 'zstd', 'gzip', 'identity']

/**
 * A copy of `b` in a buffer of its own exact size. zlib's sync output is a slice of a 16 KiB
 * slab and small `Buffer.from` results share an 8 KiB pool; keeping such a slice keeps the whole
 * slab alive while the cache counts only the slice.
 */
export function exact(b: Buffer): Buffer {
  if (b.byteOffset === 0 && b.buffer.byteLength === b.length) return b
  const out = Buffer.allocUnsafeSlow(b.length)
  b.copy(out)
  return out
}

/**
 * Makes every offered variant of the body `bytes` (once, when the entry is stored) and packs them
 * into one exact-size allocation: one backing store per entry instead of one per encoding (each
 * costs ~200 bytes the cache cannot see), and none of zlib's 16 KiB slabs.
 */
export function encodeVariants(stored: Stored, bytes: Buffer, brotliQuality: number): void {
  const br = zlib.brotliCompressSync(bytes, {
    params: {
      [zlib.constants.BROTLI_PARAM_QUALITY]: brotliQuality,
      [zlib.constants.BROTLI_PARAM_SIZE_HINT]: bytes.length,
    },
  })
  const gz = zlib.gzipSync(bytes, { level: 6 })
  const zs = zstdCompressSync === undefined ? null : zstdCompressSync(bytes)
  const all = Buffer.allocUnsafeSlow(br.length + gz.length + (zs?.length ?? 0))
  let at = 0
  const put = (b: Buffer): Buffer => {
    b.copy(all, at)
    const view = all.subarray(at, at + b.length)
    at += b.length
    return view
  }
  stored.br = put(br)
  stored.gz = put(gz)
  stored.zstd = zs === null ? null : put(zs)
  stored.varyOut = addVary(stored.headers.vary, 'accept-encoding')
}

/** The stored bytes for `enc` (identity when that variant was not made). */
export function bodyFor(stored: Stored, enc: Encoding): string | Buffer {
  if (enc === 'identity') return stored.body
  const b = enc === 'br' ? stored.br : enc === 'gzip' ? stored.gz : stored.zstd
  return b ?? stored.body
}

/** The bytes of a body as sent (regression: bytesServed counted a string's UTF-16 code units). */
export function byteLength(body: string | Buffer): number {
  return typeof body === 'string' ? Buffer.byteLength(body) : body.length
}

/** The encoding actually served for `enc` (identity when that variant does not exist). */
export function servedEncoding(stored: Stored, enc: Encoding): Encoding {
  if (enc === 'identity') return enc
  return (enc === 'br' ? stored.br : enc === 'gzip' ? stored.gz : stored.zstd) === null ? 'identity' : enc
}

const ETAG_SUFFIX: Record<Encoding, string> = { identity: '', br: '-br', gzip: '-gz', zstd: '-zs' }

/** The strong ETag of one encoding of a stored entity. */
export function etagFor(base: string, enc: Encoding): string {
  return `"${base}${ETAG_SUFFIX[enc]}"`
}

/** Every ETag an entity has (one per encoding). */
export function allEtags(base: string): string[] {
  return (Object.keys(ETAG_SUFFIX) as Encoding[]).map((e) => etagFor(base, e))
}

/** Adds `name` to a Vary value unless it is there. */
export function addVary(existing: string | undefined, name: string): string {
  if (existing === undefined || existing === '') return name
  return existing
    .split(',')
    .map((v) => v.trim().toLowerCase())
    .includes(name)
    ? existing
    : `${existing}, ${name}`
}

/**
 * The headers of an answer that comes from the cache, as a list (name, value, name, value...):
 * the stored headers (which never hold per-request ones, so the live RateLimit-* / Retry-After of
 * this request stay), Age (RFC 9111 5.1, including the origin's Age), the encoding's ETag,
 * X-Cache, Vary and Content-Encoding. The one source of them for every such answer (fresh hit,
 * stale-while-revalidate, stale-if-error, coalesced follower), written by `writeHitHeaders` or,
 * for a direct hit, by direct.ts.
 */
export function hitHeaderList(stored: Stored, enc: Encoding, xCache: 'HIT' | 'STALE', now: number): string[] {
  const list: string[] = []
  const headers = stored.headers
  const vary = stored.varyOut
  // varyOut holds the stored Vary with accept-encoding added: the stored one is not sent twice
  // (regression: a direct hit sent both Vary lines)
  for (const name in headers) if (vary === null || name !== 'vary') list.push(name, headers[name] as string)
  list.push('age', String(ageOf(stored, now)), 'etag', etagFor(stored.etag, enc), 'x-cache', xCache)
  if (vary !== null) list.push('vary', vary)
  // a reply answered from onRequest carries no Content-Encoding; stale-if-error removes the
  // handler's own before calling this
  if (enc !== 'identity') list.push('content-encoding', enc)
  return list
}

/** Sets the headers of an answer that comes from the cache on the reply (see `hitHeaderList`). */
export function writeHitHeaders(
  reply: FastifyReply,
  stored: Stored,
  enc: Encoding,
  xCache: 'HIT' | 'STALE',
  now: number,
): void {
  setHeaders(reply, hitHeaderList(stored, enc, xCache, now))
}

/** Sets a header list (name, value, name, value...) on the reply. */
export function setHeaders(reply: FastifyReply, list: readonly string[]): void {
  for (let i = 0; i < list.length; i += 2) reply.header(list[i] as string, list[i + 1])
}

/** The current age of an entry in seconds (RFC 9111 4.2.3: the origin's Age plus resident time). */
export function ageOf(stored: Stored, now: number): number {
  return Math.max(0, Math.floor((now - stored.storedAt) / 1000) + stored.originAge)
}
