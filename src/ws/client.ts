/**
 * The client side of hotpath/ws: every frame the server writes is an array of messages (a JSON
 * array in a text frame, a msgpack array in a binary frame). No Node.js imports, so this file is
 * also a browser module (`hotpath/ws/client`). msgpack frames need an `unpack` (msgpackr's, or
 * any msgpack decoder) since the browser bundle should not carry one it may not use.
 */

/** Frame data as a WebSocket delivers it: a string, an ArrayBuffer, a Uint8Array / Buffer, or an array of Buffers (ws). */
export type FrameData = string | ArrayBuffer | ArrayBufferView | readonly Uint8Array[]

/** Options of the decoder. */
export interface DecodeOptions {
  /** Decodes a binary (msgpack) frame. @default none: binary frames throw */
  unpack?: (bytes: Uint8Array) => unknown
}

const textDecoder = new TextDecoder()

function bytesOf(data: Exclude<FrameData, string>): Uint8Array {
  if (data instanceof ArrayBuffer) return new Uint8Array(data)
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
  if (!Array.isArray(data)) {
    const what = data === null ? 'null' : ((data as object)?.constructor?.name ?? typeof data)
    throw new TypeError(
      `hotpath/ws client: a frame must be a string, an ArrayBuffer, bytes or an array of Buffers; received ${what}${
        what === 'Blob' ? " (set socket.binaryType = 'arraybuffer')" : ''
      }`,
    )
  }
  const parts = data as readonly Uint8Array[]
  let n = 0
  for (const p of parts) n += p.byteLength
  const out = new Uint8Array(n)
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.byteLength
  }
  return out
}

/**
 * The messages of one frame, in the order they were sent. `isBinary` (ws's second `message`
 * argument) says a Buffer holds msgpack rather than JSON text; without it, strings are JSON and
 * bytes are msgpack.
 */
export function decodeFrame(data: FrameData, options: DecodeOptions = {}, isBinary?: boolean): unknown[] {
  let value: unknown
  if (typeof data === 'string') value = JSON.parse(data)
  else {
    const bytes = bytesOf(data)
    if (isBinary === false) value = JSON.parse(textDecoder.decode(bytes))
    else {
      if (options.unpack === undefined) {
        throw new TypeError('hotpath/ws client: a binary (msgpack) frame needs decodeFrame(data, { unpack })')
      }
      value = options.unpack(bytes)
    }
  }
  if (!Array.isArray(value)) throw new TypeError('hotpath/ws client: a frame must hold an array of messages')
  return value
}

/** Something that emits message events: a browser WebSocket. */
export interface MessageEventTarget {
  addEventListener(type: 'message', listener: (event: { data: unknown }) => void): void
  removeEventListener(type: 'message', listener: (event: { data: unknown }) => void): void
}

/**
 * Calls `onMessage` for every message of every frame a browser WebSocket receives (set
 * `socket.binaryType = 'arraybuffer'` for msgpack). Returns the unsubscriber.
 */
export function onMessages(
  socket: MessageEventTarget,
  onMessage: (message: unknown) => void,
  options: DecodeOptions = {},
): () => void {
  const listener = (event: { data: unknown }): void => {
    for (const m of decodeFrame(event.data as FrameData, options)) onMessage(m)
  }
  socket.addEventListener('message', listener)
  return () => socket.removeEventListener('message', listener)
}
