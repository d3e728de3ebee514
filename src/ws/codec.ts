/**
 * Frame codecs. Each message is encoded once, when it is sent (so its size is known for
 * `maxBytes` and the watermarks, and a broadcast reuses the part for every socket); a frame is
 * the parts joined under one array envelope: `[m1,m2,...]` as a JSON text frame, or a msgpack
 * array (header + the packed parts) as a binary frame. The client decoder (client.ts) reads both.
 */
import { pack } from 'msgpackr'

/** One encoded message: a JSON string or a msgpack buffer. */
export type Part = string | Uint8Array

/** Wire formats a batcher can write. */
export type WireFormat = 'json' | 'msgpack'

/** Encodes messages and joins them into frames. */
export interface Codec {
  readonly binary: boolean
  /** Encodes one message; throws what the serializer throws (the caller's value is bad). */
  encode(message: unknown): Part
  /** The size of a part in bytes (UTF-16 code units for JSON: exact for ASCII). */
  size(part: Part): number
  /** One frame holding `parts`. */
  frame(parts: Part[]): string | Uint8Array
}

const json: Codec = {
  binary: false,
  encode(message) {
    const s = JSON.stringify(message)
    if (s === undefined) throw new TypeError(`hotpath/ws: cannot send ${typeof message} as JSON`)
    return s
  },
  size: (part) => part.length,
  frame: (parts) => `[${parts.join(',')}]`,
}

function arrayHeader(n: number): Uint8Array {
  if (n < 16) return Uint8Array.of(0x90 | n)
  if (n < 0x10000) return Uint8Array.of(0xdc, n >>> 8, n & 0xff)
  return Uint8Array.of(0xdd, n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff)
}

const msgpack: Codec = {
  binary: true,
  encode: (message) => pack(message),
  size: (part) => part.length,
  frame(parts) {
    return Buffer.concat([arrayHeader(parts.length), ...(parts as Uint8Array[])])
  },
}

/** The codec of a wire format. */
export function codecFor(format: WireFormat): Codec {
  return format === 'msgpack' ? msgpack : json
}
