/**
 * The L2 wire format. A stored value is a fixed 21-byte header, the entry's tags, and the msgpack
 * payload `[value]`, deflated when large:
 *
 *   byte 0      format: 3 = msgpack, 4 = msgpack + deflate-raw (1 and 2, written by earlier
 *               versions, carry `[value, tags]` in the payload and no tag section; still read)
 *   bytes 1-8   expiresAt, float64 big-endian (fresh until; a Lua script rewrites it and
 *               staleUntil in place to expire entries by tag without decoding them)
 *   bytes 9-16  staleUntil, float64 big-endian (grace end; Redis' own PX expiry matches it)
 *   bytes 17-20 delta, float32 big-endian (last load duration, for XFetch)
 *   bytes 21-24 T, uint32 big-endian: byte length of the tag section that follows
 *   T bytes     each tag as a uint16 big-endian byte length and its UTF-8 bytes; the tag Lua
 *               scripts read it to touch only entries that still carry the tag
 *
 * msgpackr round-trips Date, Map, Set, Buffer, typed arrays, BigInt and nested structures.
 * Functions and symbols cannot be stored: they raise E_SERIALIZE instead of vanishing silently.
 */
import { deflateRawSync, inflateRawSync } from 'node:zlib'
import { Packr } from 'msgpackr'
import { DeserializeError, SerializeError } from '../errors.js'

/** Header size in bytes. */
export const HEADER = 21
/** Byte offset of expiresAt, used by the expire-by-tag Lua script. */
export const EXPIRES_OFFSET = 1
const RAW = 3
const DEFLATE = 4
const LEGACY_RAW = 1
const LEGACY_DEFLATE = 2
/** Byte offset of the tag section's length (read by the tag Lua scripts). */
export const TAGS_OFFSET = 21

// Plain objects are written as self-describing records (structures reset per message, so every
// entry decodes on its own in any process), which frees msgpack maps to carry real Maps.
const OPTIONS = {
  moreTypes: true,
  sequential: true,
  useRecords: true,
  mapsAsObjects: false,
  int64AsType: 'bigint',
} as const
const packr = new Packr(OPTIONS)
const unpackr = new Packr(OPTIONS)
;(packr as unknown as { writeFunction: () => never }).writeFunction = () => {
  throw new SerializeError('functions cannot be cached in L2; store plain data')
}

function pack(v: unknown): Buffer {
  ;(packr as unknown as { structures: unknown[] }).structures = []
  return packr.pack(v)
}

function unpack(b: Buffer): unknown {
  ;(unpackr as unknown as { structures: unknown[] }).structures = []
  return unpackr.unpack(b)
}

/** A decoded L2 entry. */
export interface WireEntry {
  value: unknown
  tags: readonly string[] | undefined
  expiresAt: number
  staleUntil: number
  delta: number
  /** Encoded size in bytes (a size estimate for L1). */
  size: number
}

/**
 * Refuses what msgpack would silently change, so L1 and L2 never return different values
 * (regression: -0 came back 0 and an own `__proto__` key came back `__proto_` from L2 only).
 * Walks what msgpack walks: arrays, plain objects, Maps and Sets; deeper than 256 levels, pack()
 * itself refuses the value.
 */
function assertFaithful(v: unknown, path: string, depth: number): void {
  if (typeof v === 'number') {
    if (v === 0 && 1 / v < 0)
      throw new SerializeError(`-0 at ${path} cannot be stored in L2 (it comes back 0); store 0`)
    return
  }
  if (typeof v !== 'object' || v === null || depth > 256) return
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) assertFaithful(v[i], `${path}[${i}]`, depth + 1)
  } else if (v instanceof Map) {
    for (const [k, x] of v) assertFaithful(x, `${path}.get(${String(k)})`, depth + 1)
  } else if (v instanceof Set) {
    for (const x of v) assertFaithful(x, `${path} (a Set member)`, depth + 1)
  } else if (Object.getPrototypeOf(v) === Object.prototype || Object.getPrototypeOf(v) === null) {
    if (Object.hasOwn(v, '__proto__')) {
      throw new SerializeError(`an own "__proto__" key at ${path} cannot be stored in L2; rename it`)
    }
    for (const k in v) assertFaithful((v as Record<string, unknown>)[k], `${path}.${k}`, depth + 1)
  }
}

/** Encodes an entry; throws SerializeError for values msgpack cannot carry faithfully. */
export function encode(
  value: unknown,
  tags: readonly string[] | undefined,
  expiresAt: number,
  staleUntil: number,
  delta: number,
  compressAbove: number,
): Buffer {
  assertFaithful(value, 'value', 0)
  let body: Buffer
  try {
    body = pack([value])
  } catch (err) {
    if (err instanceof SerializeError) throw err
    const why = err instanceof RangeError ? 'it is circular or too deep' : (err as Error).message
    throw new SerializeError(`value cannot be serialized for L2: ${why}`, err)
  }
  let format = RAW
  if (compressAbove > 0 && body.length > compressAbove) {
    body = deflateRawSync(body, { level: 1 })
    format = DEFLATE
  }
  const tagBytes = tags === undefined ? [] : tags.map((t) => Buffer.from(t, 'utf8'))
  let t = 0
  for (const b of tagBytes) {
    if (b.length > 0xffff) throw new SerializeError(`a tag is ${b.length} bytes long; the limit is 65535`)
    t += 2 + b.length
  }
  const out = Buffer.allocUnsafe(HEADER + 4 + t + body.length)
  out[0] = format
  out.writeDoubleBE(expiresAt, 1)
  out.writeDoubleBE(staleUntil, 9)
  out.writeFloatBE(delta, 17)
  out.writeUInt32BE(t, TAGS_OFFSET)
  let at = HEADER + 4
  for (const b of tagBytes) {
    out.writeUInt16BE(b.length, at)
    b.copy(out, at + 2)
    at += 2 + b.length
  }
  body.copy(out, at)
  return out
}

/** Decodes an entry written by `encode`; throws DeserializeError for anything else. */
export function decode(buf: Buffer): WireEntry {
  const format = buf[0]
  const legacy = format === LEGACY_RAW || format === LEGACY_DEFLATE
  if (buf.length < HEADER + 1 || (!legacy && format !== RAW && format !== DEFLATE)) {
    throw new DeserializeError(`L2 entry has an unknown format (byte 0 = ${format}, length ${buf.length})`)
  }
  try {
    let tags: string[] | undefined
    let start = HEADER
    if (!legacy) {
      const t = buf.readUInt32BE(TAGS_OFFSET)
      start = HEADER + 4 + t
      if (t > 0) {
        tags = []
        for (let at = HEADER + 4; at < start; ) {
          const n = buf.readUInt16BE(at)
          tags.push(buf.toString('utf8', at + 2, at + 2 + n))
          at += 2 + n
        }
      }
    }
    let body = buf.subarray(start)
    if (format === DEFLATE || format === LEGACY_DEFLATE) body = inflateRawSync(body)
    const arr = unpack(body) as [unknown, (readonly string[])?]
    return {
      value: arr[0],
      tags: legacy ? arr[1] : tags,
      expiresAt: buf.readDoubleBE(1),
      staleUntil: buf.readDoubleBE(9),
      delta: buf.readFloatBE(17),
      size: buf.length,
    }
  } catch (err) {
    throw new DeserializeError(`L2 entry could not be decoded: ${(err as Error).message}`, err)
  }
}
