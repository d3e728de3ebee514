/**
 * The client side of hotpath/ws: every frame the server writes is an array of messages (a JSON
 * array in a text frame, a msgpack array in a binary frame). No Node.js imports, so this file is
 * also a browser module (`hotpath/ws/client`). msgpack frames need an `unpack` (msgpackr's, or
 * any msgpack decoder) since the browser bundle should not carry one it may not use.
 */
import { HotpathError } from '../errors.js'
import { errorMessage } from '../options.js'

/** A frame that is not an array of messages, or that its decoder could not read (E_WS_DECODE). */
export class WsDecodeError extends HotpathError {
  constructor(message: string, cause?: unknown) {
    super('E_WS_DECODE', `hotpath/ws client: ${message}`, cause === undefined ? {} : { cause })
  }
}

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
    throw new WsDecodeError(
      `a frame must be a string, an ArrayBuffer, bytes or an array of Buffers; received ${what}${
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
 * bytes are msgpack. A frame it cannot read throws a WsDecodeError (`E_WS_DECODE`; the parser's
 * or decoder's error is its `cause`).
 */
export function decodeFrame(data: FrameData, options: DecodeOptions = {}, isBinary?: boolean): unknown[] {
  let value: unknown
  if (typeof data === 'string') value = parse(data)
  else {
    const bytes = bytesOf(data)
    if (isBinary === false) value = parse(textDecoder.decode(bytes))
    else {
      if (options.unpack === undefined) {
        throw new WsDecodeError('a binary (msgpack) frame needs decodeFrame(data, { unpack })')
      }
      try {
        value = options.unpack(bytes)
      } catch (err) {
        throw new WsDecodeError(`a binary frame could not be unpacked (${errorMessage(err)})`, err)
      }
    }
  }
  if (!Array.isArray(value)) throw new WsDecodeError('a frame must hold an array of messages')
  return value
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch (err) {
    throw new WsDecodeError(`a text frame is not JSON (${errorMessage(err)})`, err)
  }
}

/** Something that emits message events: a browser WebSocket. */
export interface MessageEventTarget {
  addEventListener(type: 'message', listener: (event: { data: unknown }) => void): void
  removeEventListener(type: 'message', listener: (event: { data: unknown }) => void): void
}

/** Options of `onMessages`. */
export interface OnMessagesOptions extends DecodeOptions {
  /**
   * Told of a frame that could not be decoded; the frame is dropped and later frames still
   * arrive. @default `reportError` where the runtime has it (browsers), else `console.error`
   */
  onError?: (error: WsDecodeError) => void
}

function reportDecodeError(err: WsDecodeError): void {
  const report = (globalThis as { reportError?: (e: unknown) => void }).reportError
  if (typeof report === 'function') report(err)
  else console.error(err)
}

/**
 * Calls `onMessage` for every message of every frame a WebSocket receives (a browser's; set
 * `socket.binaryType = 'arraybuffer'` for msgpack; or Node's `ws`, through its
 * addEventListener). A frame that cannot be decoded goes to `onError`, never out of the socket's
 * event: thrown there, on Node it was an uncaught exception that ended the process. Returns the
 * unsubscriber.
 */
export function onMessages(
  socket: MessageEventTarget,
  onMessage: (message: unknown) => void,
  options: OnMessagesOptions = {},
): () => void {
  if (options.onError !== undefined && typeof options.onError !== 'function') {
    throw new TypeError(`onMessages option onError must be a function; received ${typeof options.onError}`)
  }
  const onError = options.onError ?? reportDecodeError
  const listener = (event: { data: unknown }): void => {
    let messages: unknown[]
    try {
      messages = decodeFrame(event.data as FrameData, options)
    } catch (err) {
      onError(err as WsDecodeError)
      return
    }
    for (const m of messages) onMessage(m)
  }
  socket.addEventListener('message', listener)
  return () => socket.removeEventListener('message', listener)
}
