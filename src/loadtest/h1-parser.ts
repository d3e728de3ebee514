/**
 * An incremental HTTP/1.1 response parser for the load tester's `net` client: bytes in, in any
 * split, events out (head, body pieces, end). It reads only what framing needs (status,
 * Content-Length, Transfer-Encoding, Connection) unless the sink asks for the headers; 1xx
 * responses are skipped; HEAD, 204 and 304 carry no body (RFC 9112 §6.3). A malformed response
 * is an error code (llhttp's `HPE_*`, or undici's code for the same case), never a throw.
 */

/** Where a response's pieces go. */
export interface ResponseSink {
  /** The status line is in: should the headers be collected (a check or capture reads them)? */
  wantsHeaders(): boolean
  /**
   * A final response's head is in (`headers` only when asked for, names lower-cased). Returns
   * true when no body can follow (the request was HEAD).
   */
  onHead(status: number, headers: Record<string, string | string[]> | undefined): boolean
  /** Body bytes `buf[start, end)` (chunked framing removed; `buf` is reused after the call: copy to keep). */
  onBody(buf: Buffer, start: number, end: number): void
  /** The response is complete; `keepAlive` false when the connection must not carry another. */
  onEnd(keepAlive: boolean): void
}

/** Largest response head accepted (undici's default `maxHeaderSize`). */
export const MAX_HEAD_BYTES = 16 * 1024

enum State {
  Head,
  Length,
  UntilClose,
  ChunkSize,
  ChunkData,
  ChunkEnd,
  Trailers,
}

const LF = 10
const CR = 13
const COLON = 58

/** A response parser for one connection (responses in order, pipelined or not). */
export class ResponseParser {
  private state = State.Head
  /** Bytes of an unfinished line carried over from the previous chunk. */
  private carry: Buffer | undefined
  /** Bytes of the current head so far (overflow check). */
  private headBytes = 0
  /** A response has started (bytes seen since the last end). */
  private started = false
  private status = 0
  private contentLength = -1
  private chunked = false
  private transferEncoding = false
  private close = false
  private http10 = false
  private keepAliveHeader = false
  private remaining = 0
  private headers: Record<string, string | string[]> | undefined
  private lastHeader: string | undefined
  private stopped = false

  constructor(private readonly sink: ResponseSink) {}

  /** True while a response is partly read. */
  get busy(): boolean {
    return this.started
  }

  /**
   * Feeds `buf[0, len)`; returns an error code when the response is malformed (stop using the
   * parser). Nothing of `buf` is kept after the call (the caller may reuse it).
   */
  execute(buf: Buffer, len = buf.length): string | undefined {
    let pos = 0
    while (pos < len && !this.stopped) {
      const state = this.state
      if (state === State.Length || state === State.ChunkData) {
        const n = Math.min(this.remaining, len - pos)
        this.sink.onBody(buf, pos, pos + n)
        pos += n
        this.remaining -= n
        if (this.remaining === 0) {
          if (state === State.Length) this.complete()
          else this.state = State.ChunkEnd
        }
        continue
      }
      if (state === State.UntilClose) {
        this.sink.onBody(buf, pos, len)
        return undefined
      }
      // Line-oriented states: the head, chunk sizes, chunk ends, trailers.
      this.started = true
      // `buf` may be longer than `len` (a shared read buffer): a line feed past `len` is stale
      const nl = buf.indexOf(LF, pos)
      if (nl === -1 || nl >= len) {
        const rest = buf.subarray(pos, len)
        this.carry = this.carry === undefined ? Buffer.from(rest) : Buffer.concat([this.carry, rest])
        return this.carry.length > MAX_HEAD_BYTES ? 'UND_ERR_HEADERS_OVERFLOW' : undefined
      }
      const size = (this.carry?.length ?? 0) + nl + 1 - pos
      let line = buf
      let start = pos
      let end = nl
      if (this.carry !== undefined) {
        line = Buffer.concat([this.carry, buf.subarray(pos, nl)])
        start = 0
        end = line.length
        this.carry = undefined
      }
      if (end > start && line[end - 1] === CR) end--
      pos = nl + 1
      const error = this.line(line, start, end, size)
      if (error !== undefined) return error
    }
    return undefined
  }

  /** Ignores everything from now on (the connection is closing). */
  stop(): void {
    this.stopped = true
  }

  /**
   * The peer closed the connection: a body read until close ends here. Returns false when a
   * response was cut short.
   */
  finish(): boolean {
    if (this.state === State.UntilClose) {
      this.complete()
      return true
    }
    return !this.started
  }

  private line(buf: Buffer, start: number, end: number, size: number): string | undefined {
    switch (this.state) {
      case State.Head:
        this.headBytes += size
        if (this.headBytes > MAX_HEAD_BYTES) return 'UND_ERR_HEADERS_OVERFLOW'
        if (this.status === 0) return end === start ? undefined : this.statusLine(buf, start, end)
        return end === start ? this.headEnd() : this.header(buf, start, end)
      case State.ChunkSize:
        return this.chunkSize(buf, start, end)
      case State.ChunkEnd:
        if (end !== start) return 'HPE_INVALID_CHUNK_SIZE'
        this.state = State.ChunkSize
        return undefined
      default:
        // Trailers are read and dropped; an empty line ends the message.
        if (end === start) this.complete()
        return undefined
    }
  }

  private statusLine(buf: Buffer, start: number, end: number): string | undefined {
    // "HTTP/1.x NNN reason"
    if (
      end - start < 12 ||
      !bytesAre(buf, start, 'HTTP/1.') ||
      !isDigit(buf[start + 7]) ||
      buf[start + 8] !== 32
    )
      return 'HPE_INVALID_CONSTANT'
    const a = (buf[start + 9] as number) - 48
    const b = (buf[start + 10] as number) - 48
    const c = (buf[start + 11] as number) - 48
    if (a < 1 || a > 9 || b < 0 || b > 9 || c < 0 || c > 9) return 'HPE_INVALID_STATUS'
    if (end - start > 12 && buf[start + 12] !== 32) return 'HPE_INVALID_STATUS'
    this.status = a * 100 + b * 10 + c
    this.http10 = buf[start + 7] === 48
    this.headers = this.sink.wantsHeaders() ? {} : undefined
    return undefined
  }

  private header(buf: Buffer, start: number, end: number): string | undefined {
    const first = buf[start]
    if (first === 32 || first === 9) {
      // obs-fold: a continuation of the previous header's value
      if (this.headers !== undefined && this.lastHeader !== undefined) {
        const prev = this.headers[this.lastHeader]
        if (typeof prev === 'string') this.headers[this.lastHeader] = `${prev} ${trimmed(buf, start, end)}`
      }
      return undefined
    }
    const colon = buf.indexOf(COLON, start)
    if (colon <= start || colon >= end) return 'HPE_INVALID_HEADER_TOKEN'
    const prevByte = buf[colon - 1]
    if (prevByte === 32 || prevByte === 9) return 'HPE_INVALID_HEADER_TOKEN'
    const nameLen = colon - start
    if (nameLen === 14 && nameIs(buf, start, 'content-length')) {
      const length = digits(buf, colon + 1, end)
      if (length < 0) return 'HPE_INVALID_CONTENT_LENGTH'
      // a second Content-Length is refused (llhttp), as undici reports it
      if (this.contentLength !== -1) return 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH'
      this.contentLength = length
    } else if (nameLen === 17 && nameIs(buf, start, 'transfer-encoding')) {
      const codings = trimmed(buf, colon + 1, end)
        .toLowerCase()
        .split(',')
      this.transferEncoding = true
      this.chunked = (codings[codings.length - 1] as string).trim() === 'chunked'
    } else if (nameLen === 10 && nameIs(buf, start, 'connection')) this.connectionTokens(buf, colon + 1, end)
    if (this.headers !== undefined) {
      const name = buf.toString('latin1', start, colon).toLowerCase()
      const value = trimmed(buf, colon + 1, end)
      const prev = this.headers[name]
      this.headers[name] = prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [prev, value]
      this.lastHeader = name
    }
    return undefined
  }

  /** `Connection: close` and `keep-alive`, compared in place (no strings per response). */
  private connectionTokens(buf: Buffer, start: number, end: number): void {
    let i = start
    while (i < end) {
      let comma = buf.indexOf(44, i)
      if (comma === -1 || comma > end) comma = end
      let a = i
      let b = comma
      while (a < b && (buf[a] === 32 || buf[a] === 9)) a++
      while (b > a && (buf[b - 1] === 32 || buf[b - 1] === 9)) b--
      if (b - a === 5 && nameIs(buf, a, 'close')) this.close = true
      else if (b - a === 10 && nameIs(buf, a, 'keep-alive')) this.keepAliveHeader = true
      i = comma + 1
    }
  }

  private headEnd(): string | undefined {
    const status = this.status
    if (status < 200) {
      // 101 was never asked for (no Upgrade sent): undici calls it a bad upgrade
      if (status === 101) return 'UND_ERR_SOCKET'
      // 1xx informational: the final response follows on the same request
      this.resetHead()
      return undefined
    }
    if (this.transferEncoding && this.contentLength !== -1) return 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH'
    const noBody = this.sink.onHead(status, this.headers)
    if (noBody || status === 204 || status === 304) {
      this.complete()
      return undefined
    }
    if (this.chunked) this.state = State.ChunkSize
    else if (this.transferEncoding) {
      this.close = true
      this.state = State.UntilClose
    } else if (this.contentLength === 0) this.complete()
    else if (this.contentLength > 0) {
      this.remaining = this.contentLength
      this.state = State.Length
    } else {
      this.close = true
      this.state = State.UntilClose
    }
    return undefined
  }

  private chunkSize(buf: Buffer, start: number, end: number): string | undefined {
    let size = 0
    let i = start
    for (; i < end; i++) {
      const d = hexValue(buf[i] as number)
      if (d === -1) break
      size = size * 16 + d
      if (size > Number.MAX_SAFE_INTEGER) return 'HPE_INVALID_CHUNK_SIZE'
    }
    if (i === start) return 'HPE_INVALID_CHUNK_SIZE'
    // What may follow the digits: whitespace and `;extensions`, nothing else.
    while (i < end && (buf[i] === 32 || buf[i] === 9)) i++
    if (i < end && buf[i] !== 59) return 'HPE_INVALID_CHUNK_SIZE'
    if (size === 0) this.state = State.Trailers
    else {
      this.remaining = size
      this.state = State.ChunkData
    }
    return undefined
  }

  private complete(): void {
    const keepAlive = !this.close && (!this.http10 || this.keepAliveHeader)
    this.resetHead()
    this.sink.onEnd(keepAlive)
  }

  private resetHead(): void {
    this.state = State.Head
    this.started = false
    this.headBytes = 0
    this.status = 0
    this.contentLength = -1
    this.chunked = false
    this.transferEncoding = false
    this.close = false
    this.http10 = false
    this.keepAliveHeader = false
    this.headers = undefined
    this.lastHeader = undefined
  }
}

function isDigit(b: number | undefined): boolean {
  return b !== undefined && b >= 48 && b <= 57
}

function hexValue(b: number): number {
  if (b >= 48 && b <= 57) return b - 48
  const l = b | 0x20
  if (l >= 97 && l <= 102) return l - 87
  return -1
}

/** Compares bytes with an ASCII string exactly. */
function bytesAre(buf: Buffer, start: number, text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    if (buf[start + i] !== text.charCodeAt(i)) return false
  }
  return true
}

/** A Content-Length value (OWS around 1-15 digits), or -1 when it is not one. */
function digits(buf: Buffer, start: number, end: number): number {
  while (start < end && (buf[start] === 32 || buf[start] === 9)) start++
  while (end > start && (buf[end - 1] === 32 || buf[end - 1] === 9)) end--
  if (end === start || end - start > 15) return -1
  let n = 0
  for (let i = start; i < end; i++) {
    const d = (buf[i] as number) - 48
    if (d < 0 || d > 9) return -1
    n = n * 10 + d
  }
  return n
}

/** Compares a header name with a lower-case one, ignoring case. */
function nameIs(buf: Buffer, start: number, lower: string): boolean {
  for (let i = 0; i < lower.length; i++) {
    if (((buf[start + i] as number) | 0x20) !== lower.charCodeAt(i)) return false
  }
  return true
}

/** The value between `start` and `end` without surrounding spaces and tabs. */
function trimmed(buf: Buffer, start: number, end: number): string {
  while (start < end && (buf[start] === 32 || buf[start] === 9)) start++
  while (end > start && (buf[end - 1] === 32 || buf[end - 1] === 9)) end--
  return buf.toString('latin1', start, end)
}
