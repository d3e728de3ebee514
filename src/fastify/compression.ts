/**
 * Compression of responses that did not come from (or go into) the response cache: br or gzip
 * by Accept-Encoding, above a threshold, for compressible types only, never for ranges or bodies
 * already encoded, with `Vary: Accept-Encoding`. Brotli runs at a quality suited to dynamic
 * responses (4: most of the ratio at a fraction of the time of 11).
 */

import { promisify } from 'node:util'
import { brotliCompress, constants, gzip } from 'node:zlib'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { assertKnownKeys } from '../options.js'
import { compressible, negotiateEncoding } from './http.js'

const br = promisify(brotliCompress)
const gz = promisify(gzip)

/** Compression options. */
export interface CompressionOptions {
  /** Smallest body compressed, in bytes (the seeds' 1 KB). @default 1024 */
  threshold?: number
  /** Brotli quality 0-11. @default 4 */
  brotliQuality?: number
  /** gzip level 1-9. @default 6 */
  gzipLevel?: number
}

/** Compresses a payload in onSend when it should be. */
export class Compressor {
  private readonly threshold: number
  private readonly quality: number
  private readonly level: number

  constructor(o: CompressionOptions) {
    assertKnownKeys(o, ['threshold', 'brotliQuality', 'gzipLevel'], 'compression')
    this.threshold = o.threshold ?? 1024
    this.quality = o.brotliQuality ?? 4
    this.level = o.gzipLevel ?? 6
    if (!Number.isInteger(this.threshold) || this.threshold < 0)
      throw new RangeError(`compression.threshold must be an integer >= 0; received ${this.threshold}`)
    if (!(this.quality >= 0 && this.quality <= 11))
      throw new RangeError(`compression.brotliQuality must be 0-11; received ${this.quality}`)
    if (!(this.level >= 1 && this.level <= 9))
      throw new RangeError(`compression.gzipLevel must be 1-9; received ${this.level}`)
  }

  /** Returns the payload to send (compressed when it should be). */
  async apply(request: FastifyRequest, reply: FastifyReply, payload: unknown): Promise<unknown> {
    if (typeof payload !== 'string' && !Buffer.isBuffer(payload)) return payload
    if (reply.getHeader('content-encoding') !== undefined || reply.getHeader('content-range') !== undefined)
      return payload
    if (request.method === 'HEAD' || reply.statusCode === 204 || reply.statusCode === 304) return payload
    if (!compressible(reply.getHeader('content-type') as string | undefined)) return payload
    const size = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length
    if (size < this.threshold) return payload
    const vary = String(reply.getHeader('vary') ?? '')
    if (!vary.toLowerCase().includes('accept-encoding'))
      reply.header('vary', vary ? `${vary}, accept-encoding` : 'accept-encoding')
    const enc = negotiateEncoding(request.headers['accept-encoding'] as string | undefined, [
      'br',
      'gzip',
      'identity',
    ])
    if (enc === 'identity') return payload
    const body = typeof payload === 'string' ? Buffer.from(payload) : payload
    const out =
      enc === 'br'
        ? await br(body, {
            params: {
              [constants.BROTLI_PARAM_QUALITY]: this.quality,
              [constants.BROTLI_PARAM_SIZE_HINT]: size,
            },
          })
        : await gz(body, { level: this.level })
    reply.header('content-encoding', enc)
    reply.removeHeader('content-length')
    return out
  }
}
