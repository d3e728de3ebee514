/**
 * `batched(socket, options)`: one connection's batcher over a `ws` WebSocket (or the socket
 * @fastify/websocket hands a route). Frames are written with `socket.send`; backpressure reads
 * `socket.bufferedAmount`, which `ws` keeps but never acts on (research §3.1: a client that stops
 * reading grew a server by 107 MB). Above `highWatermark` nothing is written: keyed messages
 * conflate, volatile ones are dropped, the rest wait; a poll (background timer) resumes writing
 * below `lowWatermark`, and closes the connection with 1008 when socket buffer plus queue pass
 * `maxBuffered`, or with 1013 when the client stays slow for `maxStall`. So a stalled client costs
 * bounded memory.
 */
import type { TimerHandle } from '../time.js'
import type { BufferReader } from './metrics.js'
import { type BatchedOptions, type ResolvedBatchedOptions, resolveBatchedOptions } from './options.js'
import { BatchQueue, type Pending } from './queue.js'

/** What the batcher needs of a socket: `ws`'s WebSocket (and @fastify/websocket's) has all of it. */
export interface WebSocketLike {
  readonly readyState: number
  readonly bufferedAmount: number
  send(data: string | Uint8Array, options: { binary: boolean }): void
  close(code?: number, reason?: string): void
  terminate?(): void
  // biome-ignore lint/suspicious/noExplicitAny: ws overloads `on` per event
  on?(event: 'close', listener: (...args: any[]) => void): unknown
  // biome-ignore lint/suspicious/noExplicitAny: ws overloads `removeListener` per event
  removeListener?(event: 'close', listener: (...args: any[]) => void): unknown
}

const BINARY = Object.freeze({ binary: true })
const TEXT = Object.freeze({ binary: false })
const CONNECTING = 0
const OPEN = 1
const CLOSED = 3
/** How often a paused connection looks at its socket buffer. */
const POLL_MS = 10
/** How long a connection closed for backpressure may take to say goodbye before it is cut. */
const CLOSE_GRACE_MS = 1000

/** Close code when socket buffer plus queue pass `maxBuffered` (policy violation). */
export const CLOSE_OVER_CAP = 1008
/** Close code when the client stays above the high watermark for `maxStall` (try again later). */
export const CLOSE_STALLED = 1013

/** One connection's figures (the shared ones per name come from `stats()` of the name). */
export interface BatchedStats {
  /** Messages written. */
  messages: number
  /** Frames written (socket writes). */
  frames: number
  /** Messages waiting. */
  pending: number
  /** Whether the client is above the high watermark (not being written to). */
  paused: boolean
  /** Socket buffer plus what the queue holds (encoded bytes plus `PENDING_COST` per message). */
  bufferedBytes: number
}

/** A batched connection. */
export class Batched<T = unknown> extends BatchQueue<T> implements BufferReader {
  readonly socket: WebSocketLike
  private messages = 0
  private frames = 0
  private pausedAt = 0
  private poll: TimerHandle | undefined
  private readonly binary: { binary: boolean }
  /** Made on the first pause: an idle connection carries no closure for it. */
  private onPoll: (() => void) | undefined

  constructor(socket: WebSocketLike, options: ResolvedBatchedOptions<T>) {
    if (socket === null || typeof socket !== 'object' || typeof socket.send !== 'function') {
      throw new TypeError(
        'hotpath/ws: batched(socket) needs a ws WebSocket (or an object with send and bufferedAmount)',
      )
    }
    super(options)
    this.socket = socket
    this.binary = this.codec.binary ? BINARY : TEXT
    this.counters.open.add(this)
    socket.on?.('close', () => this.gone())
    // a socket that closed before it was wrapped will not say so again
    if (socket.readyState === CLOSED) this.gone()
  }

  /** Whether this batcher is closed (its socket closed, or close() was called). */
  get isClosed(): boolean {
    return this.closed
  }

  /** Socket buffer plus what the queue holds (encoded bytes plus `PENDING_COST` per message). */
  get bufferedBytes(): number {
    return this.socket.bufferedAmount + this.queuedCost
  }

  /** Whether the client is above the high watermark. */
  get isPaused(): boolean {
    return this.paused
  }

  /** This connection's figures. */
  stats(): BatchedStats {
    return {
      messages: this.messages,
      frames: this.frames,
      pending: this.live,
      paused: this.paused,
      bufferedBytes: this.bufferedBytes,
    }
  }

  /**
   * Writes what is pending (a paused connection cannot: its queue is dropped), then closes the
   * socket with `code` (1000 by default).
   */
  close(code = 1000, reason = ''): void {
    if (this.closed) return
    this.flush()
    this.gone()
    this.socket.close(code, reason)
  }

  protected socketBuffered(): number {
    return this.socket.bufferedAmount
  }

  protected blocked(): boolean {
    if (this.paused) return true
    const state = this.socket.readyState
    if (state !== OPEN) {
      // a client socket still connecting is waited for like a slow client (the poll writes once
      // it opens; the cap and maxStall hold meanwhile). Regression: the first flush closed the
      // batcher and dropped what had been sent before the handshake ended
      if (state === CONNECTING) this.pause()
      else this.gone()
      return true
    }
    if (this.socket.bufferedAmount < this.o.highWatermark) return false
    this.pause()
    return true
  }

  protected write(frame: string | Uint8Array, count: number, waitedMs: number): void {
    this.socket.send(frame, this.binary)
    this.messages += count
    this.frames++
    this.counters.frame(count, waitedMs)
  }

  protected overflowed(): void {
    if (this.bufferedBytes > this.o.maxBuffered) this.closeForBackpressure(CLOSE_OVER_CAP)
  }

  /**
   * A broadcast frame: written as is when nothing of ours waits and the client keeps up;
   * otherwise its messages join this connection's queue (conflating and dropping like any other).
   */
  deliver(
    frame: Uint8Array,
    count: number,
    waitedMs: number,
    queue: Pending<T>[],
    start: number,
    end: number,
  ): void {
    if (this.closed) {
      this.counters.dropped += count
      return
    }
    if (this.live === 0 && !this.blocked()) {
      this.write(frame, count, waitedMs)
      return
    }
    if (this.closed) return
    for (let i = start; i < end; i++) {
      const e = queue[i] as Pending<T>
      if (e.dead) continue
      if (e.volatile && this.paused) {
        this.counters.dropped++
        continue
      }
      this.adopt(e)
    }
    if (this.paused) this.overflowed()
    else this.flush()
  }

  private pause(): void {
    this.paused = true
    this.pausedAt = this.o.clock.now()
    this.dropVolatile()
    this.onPoll ??= () => this.check()
    this.poll = this.o.clock.setBackgroundTimeout(this.onPoll, POLL_MS)
    this.overflowed()
  }

  private check(): void {
    this.poll = undefined
    if (this.closed) return
    const buffered = this.socket.bufferedAmount
    if (buffered + this.queuedCost > this.o.maxBuffered) {
      this.closeForBackpressure(CLOSE_OVER_CAP)
      return
    }
    if (buffered <= this.o.lowWatermark && this.socket.readyState !== CONNECTING) {
      this.paused = false
      this.flush()
      return
    }
    if (this.o.clock.now() - this.pausedAt >= this.o.maxStallMs) {
      this.closeForBackpressure(CLOSE_STALLED)
      return
    }
    this.poll = this.o.clock.setBackgroundTimeout(this.onPoll as () => void, POLL_MS)
  }

  private closeForBackpressure(code: number): void {
    if (this.closed) return
    this.counters.closedForBackpressure++
    this.gone()
    const socket = this.socket
    socket.close(code, code === CLOSE_OVER_CAP ? 'client too slow: buffer cap reached' : 'client stalled')
    // the close frame waits behind everything the client did not read: cut the socket if it
    // does not finish closing soon, so its buffer is freed
    if (typeof socket.terminate === 'function') {
      this.o.clock.setBackgroundTimeout(() => {
        if (socket.readyState !== CLOSED) socket.terminate?.()
      }, CLOSE_GRACE_MS)
    }
  }

  private gone(): void {
    if (this.closed) return
    if (this.poll !== undefined) this.o.clock.clearTimeout(this.poll)
    this.poll = undefined
    this.discard()
    this.counters.open.delete(this)
  }
}

/**
 * Wraps a `ws` WebSocket (or @fastify/websocket's socket) in a batcher:
 * `batched(socket, options).send(message, { priority, key, volatile })`.
 */
export function batched<T = unknown>(
  socket: WebSocketLike,
  options?: BatchedOptions<T> | ResolvedBatchedOptions<T>,
): Batched<T> {
  return new Batched(socket, resolveBatchedOptions(options))
}
