/**
 * The `net` client: plain HTTP/1.1 over `net.Socket`, one parser per connection, request bytes
 * written as they are (prebuilt when the step has no templates). A connection that finishes a
 * response takes the next waiting request in the same turn of the event loop (undici waits one
 * or two turns), which is where the closed loop's capacity goes.
 *
 * Semantics follow undici's, so the two clients count alike: connections opened on demand up to
 * `connections`, up to `pipelining` requests in flight on each, a waiting queue beyond; a
 * connect failure fails the requests given to that connection; a connection that dies mid-way
 * fails the request being answered and re-sends the ones pipelined behind it; `Connection:
 * close` retires the connection after its response. Timeouts (headers, body idle, connect) are
 * checked by one sweep per pool, not a timer per request. Error kinds are undici's codes.
 */
import net from 'node:net'
import type { Clock, TimerHandle } from '../time.js'
import { ResponseParser, type ResponseSink } from './h1-parser.js'
import { newSent, type Sent } from './sent.js'

/** Error kind of requests cancelled by `destroy()` (undici's for a destroyed agent). */
const DESTROYED = 'UND_ERR_DESTROYED'

/**
 * How a connection fails when the server closed it as a request went out: the request was
 * written (timer phase) before the poll phase read the close, and Node drops the unread answer
 * of the request before it when the write fails. Such a request, with no byte of its answer
 * read, is sent once more on a new connection, as HTTP clients do for idempotent requests.
 */
const STALE_CONNECTION = new Set(['EPIPE', 'ECONNRESET', 'UND_ERR_SOCKET'])

/** Where and how the pool connects. */
export interface NetPoolOptions {
  /** The target's origin (`http://host:port`); requests elsewhere go through undici. */
  origin: string
  connections: number
  pipelining: number
  timeoutMs: number
  clock: Clock
}

/** One request: its bytes, its outcome, and the promise to settle. */
class NetRequest {
  readonly out: Sent = newSent()
  readonly chunks: Buffer[] | undefined
  readonly head: boolean
  /** May be sent again after a stale connection failed it (not POST or PATCH, not resent yet). */
  retryable: boolean

  constructor(
    readonly bytes: Buffer | string,
    method: string,
    needsBody: boolean,
    private readonly clock: Clock,
    private readonly resolve: (out: Sent) => void,
  ) {
    this.chunks = needsBody ? [] : undefined
    this.head = method === 'HEAD'
    this.retryable = method !== 'POST' && method !== 'PATCH'
  }

  done(): void {
    const out = this.out
    out.end = this.clock.now()
    if (this.chunks !== undefined) out.text = Buffer.concat(this.chunks).toString('utf8')
    this.resolve(out)
  }

  fail(code: string): void {
    this.out.end = this.clock.now()
    this.out.error = code
    this.resolve(this.out)
  }
}

/** Connections to one origin and the queue of requests waiting for one. */
export class NetPool {
  readonly origin: string
  readonly host: string
  readonly port: number
  readonly pipelining: number
  readonly timeoutMs: number
  readonly clock: Clock
  /**
   * Every connection reads into this one buffer (`onread`: no allocation and no stream events
   * per read); the parser copies what it keeps before the next read can land.
   */
  readonly readBuffer = Buffer.allocUnsafe(64 * 1024)
  private readonly max: number
  /** Connections with room, most recently freed on top (entries may be stale: checked on use). */
  private readonly free: Connection[] = []
  private readonly all = new Set<Connection>()
  private pending: NetRequest[] = []
  private pendingHead = 0
  private destroyed = false
  private sweepTimer: TimerHandle | undefined

  constructor(o: NetPoolOptions) {
    const url = new URL(o.origin)
    this.origin = url.origin
    this.host = url.hostname.replace(/^\[(.*)\]$/, '$1')
    this.port = url.port === '' ? 80 : Number(url.port)
    this.max = o.connections
    this.pipelining = o.pipelining
    this.timeoutMs = o.timeoutMs
    this.clock = o.clock
    this.sweep()
  }

  /** Sends `bytes` and resolves with the outcome (never rejects). */
  request(bytes: Buffer | string, method: string, needsBody: boolean): Promise<Sent> {
    return new Promise<Sent>((resolve) => {
      this.dispatch(new NetRequest(bytes, method, needsBody, this.clock, resolve))
    })
  }

  /**
   * Sends `bytes` and calls `done` with the outcome, once (no promise: the closed loop's fast
   * path). `done` may run before `send` returns (a destroyed pool fails at once).
   */
  send(bytes: Buffer | string, method: string, needsBody: boolean, done: (out: Sent) => void): void {
    this.dispatch(new NetRequest(bytes, method, needsBody, this.clock, done))
  }

  /** Fails every waiting and in-flight request (`UND_ERR_DESTROYED`) and closes the sockets. */
  destroy(): void {
    if (this.destroyed) return
    this.destroyed = true
    this.clock.clearTimeout(this.sweepTimer)
    for (let i = this.pendingHead; i < this.pending.length; i++) this.pending[i]?.fail(DESTROYED)
    this.pending = []
    this.pendingHead = 0
    for (const c of [...this.all]) c.terminate(DESTROYED, true)
  }

  /** A connection has room: it takes a waiting request, or goes on the free stack. */
  ready(c: Connection): void {
    while (this.pendingHead < this.pending.length && c.hasRoom()) c.send(this.shiftPending())
    if (c.hasRoom() && !c.inFree) {
      c.inFree = true
      this.free.push(c)
    }
  }

  /** A connection is gone; `resend` were pipelined behind its failure and go out again first. */
  removed(c: Connection, resend: NetRequest[]): void {
    this.all.delete(c)
    if (resend.length > 0) {
      if (this.destroyed) {
        for (const r of resend) r.fail(DESTROYED)
        return
      }
      this.pending.splice(this.pendingHead, 0, ...resend)
    }
    while (this.pendingHead < this.pending.length) {
      const free = this.takeFree()
      if (free !== undefined) free.send(this.shiftPending())
      else if (this.all.size < this.max) this.open(this.shiftPending())
      else return
    }
  }

  private dispatch(req: NetRequest): void {
    if (this.destroyed) {
      req.fail(DESTROYED)
      return
    }
    const free = this.takeFree()
    if (free !== undefined) free.send(req)
    else if (this.all.size < this.max) this.open(req)
    else this.pending.push(req)
  }

  /**
   * The connection on top of the free stack, for one request: it leaves the stack when that
   * request fills it.
   */
  private takeFree(): Connection | undefined {
    const free = this.free
    while (free.length > 0) {
      const c = free[free.length - 1] as Connection
      if (c.roomFor(2)) return c
      c.inFree = false
      free.pop()
      if (c.hasRoom()) return c
    }
    return undefined
  }

  private open(req: NetRequest): void {
    const c = new Connection(this)
    this.all.add(c)
    c.send(req)
    if (c.hasRoom()) {
      c.inFree = true
      this.free.push(c)
    }
  }

  private shiftPending(): NetRequest {
    const req = this.pending[this.pendingHead] as NetRequest
    this.pending[this.pendingHead++] = undefined as unknown as NetRequest
    if (this.pendingHead === this.pending.length) {
      this.pending = []
      this.pendingHead = 0
    } else if (this.pendingHead > 1024 && this.pendingHead * 2 > this.pending.length) {
      this.pending = this.pending.slice(this.pendingHead)
      this.pendingHead = 0
    }
    return req
  }

  /** One timer per pool: timeouts are found within a tenth of the timeout (at most 1 s late). */
  private sweep(): void {
    const every = Math.min(1000, Math.max(10, this.timeoutMs / 10))
    const run = (): void => {
      const now = this.clock.now()
      for (const c of this.all) c.checkTimeout(now)
      if (!this.destroyed) this.sweepTimer = this.clock.setBackgroundTimeout(run, every)
    }
    this.sweepTimer = this.clock.setBackgroundTimeout(run, every)
  }
}

/** One keep-alive connection: requests in flight in order, answered in order. */
class Connection implements ResponseSink {
  inFree = false
  private readonly socket: net.Socket
  private readonly parser = new ResponseParser(this)
  private inflight: NetRequest[] = []
  private connected = false
  private dead = false
  /** In a response's body (a stall there is a body timeout, before it a headers timeout). */
  private inBody = false
  /** Last time the connection made progress: a write to an idle connection, data, an end. */
  private activity: number
  /** A connect timeout is checked against this (set until connected). */
  private readonly openedAt: number

  constructor(private readonly pool: NetPool) {
    this.openedAt = pool.clock.now()
    this.activity = this.openedAt
    const socket = net.connect({
      host: pool.host,
      port: pool.port,
      noDelay: true,
      onread: {
        buffer: pool.readBuffer,
        callback: (n: number, buf: Uint8Array) => this.onData(buf as Buffer, n),
      },
    })
    this.socket = socket
    socket.on('connect', () => this.onConnect())
    socket.on('end', () => this.onPeerEnd())
    socket.on('error', (err: Error & { code?: string }) => this.terminate(err.code ?? err.name))
    socket.on('close', () => this.terminate('UND_ERR_SOCKET'))
  }

  hasRoom(): boolean {
    return !this.dead && this.inflight.length < this.pool.pipelining
  }

  /** Room for `n` more requests. */
  roomFor(n: number): boolean {
    return !this.dead && this.inflight.length + n <= this.pool.pipelining
  }

  send(req: NetRequest): void {
    this.inflight.push(req)
    if (this.connected) this.write(req)
  }

  /**
   * Ends the connection. With `code`: the request being answered fails with it (all of them
   * when the connection never opened, or with `failAll`), the others are sent again elsewhere;
   * without: every request still in flight is sent again. A connection found closed before any
   * byte of the answer sends its request again once (`STALE_CONNECTION`).
   */
  terminate(code: string | undefined, failAll = !this.connected): void {
    if (this.dead) return
    this.dead = true
    this.parser.stop()
    const reqs = this.inflight
    this.inflight = []
    let resend = reqs
    if (code !== undefined && reqs.length > 0) {
      if (failAll) {
        for (const r of reqs) r.fail(code)
        resend = []
      } else {
        const head = reqs[0] as NetRequest
        if (!this.parser.busy && head.retryable && STALE_CONNECTION.has(code)) {
          head.retryable = false
        } else {
          head.fail(code)
          resend = reqs.slice(1)
        }
      }
    }
    // requests not yet answered go out again: their send time is the new write's
    for (const r of resend) r.out.sentAt = undefined
    this.socket.destroy()
    this.pool.removed(this, resend)
  }

  checkTimeout(now: number): void {
    if (this.dead) return
    if (!this.connected) {
      if (now - this.openedAt > this.pool.timeoutMs) this.terminate('UND_ERR_CONNECT_TIMEOUT', true)
      return
    }
    if (this.inflight.length > 0 && now - this.activity > this.pool.timeoutMs)
      this.terminate(this.inBody ? 'UND_ERR_BODY_TIMEOUT' : 'UND_ERR_HEADERS_TIMEOUT')
  }

  wantsHeaders(): boolean {
    const req = this.inflight[0]
    if (req === undefined) {
      // a response nobody asked for: the connection cannot be trusted any more
      this.terminate('UND_ERR_SOCKET')
      return false
    }
    return req.chunks !== undefined
  }

  onHead(status: number, headers: Record<string, string | string[]> | undefined): boolean {
    const req = this.inflight[0] as NetRequest
    req.out.status = status
    if (headers !== undefined) req.out.headers = headers
    this.inBody = true
    return req.head
  }

  onBody(buf: Buffer, start: number, end: number): void {
    const req = this.inflight[0] as NetRequest
    req.out.bytes += end - start
    // a copy: the read buffer is shared and reused
    req.chunks?.push(Buffer.from(buf.subarray(start, end)))
  }

  onEnd(keepAlive: boolean): void {
    const req = this.inflight.shift() as NetRequest
    this.inBody = false
    this.activity = this.pool.clock.now()
    // the connection is free before the outcome is handed on: a caller that sends its next
    // request from the callback (the closed loop) finds it on top of the free stack
    if (keepAlive) this.pool.ready(this)
    else this.terminate(undefined)
    req.done()
  }

  private write(req: NetRequest): void {
    const now = this.pool.clock.now()
    req.out.sentAt = now
    if (this.inflight.length === 1) this.activity = now
    this.socket.write(req.bytes)
  }

  private onConnect(): void {
    this.connected = true
    this.activity = this.pool.clock.now()
    for (const req of this.inflight) this.write(req)
  }

  private onData(buf: Buffer, n: number): boolean {
    this.activity = this.pool.clock.now()
    const error = this.parser.execute(buf, n)
    if (error !== undefined) this.terminate(error)
    return true
  }

  /** The server closed its side: a body read until close ends; anything else in flight failed. */
  private onPeerEnd(): void {
    const clean = this.parser.finish()
    this.terminate(clean && this.inflight.length === 0 ? undefined : 'UND_ERR_SOCKET')
  }
}
