/**
 * The outbound queue every batcher shares (one socket's, or a broadcast group's): messages are
 * encoded as they are sent, conflated by key while pending, and written as array frames at the
 * end of the current I/O turn (setImmediate), when the queue reaches the batch size or
 * `maxBytes`, at once for a priority message, or after the window when the loop is loaded.
 * A deliberate hot path: one small object per message, no closures per send, a key map only
 * when keys are used.
 */
import { performance } from 'node:perf_hooks'
import type { EventLoopSource } from '../metrics/index.js'
import type { TimerHandle } from '../time.js'
import { type Codec, codecFor, type Part } from './codec.js'
import { bufferLoad, delayLoad, holdSource, letGoSource, sharedEventLoop, utilizationLoad } from './load.js'
import { countersFor, type WsCounters } from './metrics.js'
import { type ResolvedBatchedOptions, WINDOW_ADAPTIVE, WINDOW_TURN } from './options.js'

/** Per-message options of `send()`. */
export interface SendOptions {
  /** At or above the batcher's `priorityThreshold` the queue is written at once. @default 0 */
  priority?: number
  /** A pending message with the same key is replaced by this one (or merged with it). @default none */
  key?: string
  /** May be dropped while the client is slow (above the high watermark). @default false */
  volatile?: boolean
}

/**
 * Heap a pending message costs beyond its encoded bytes (its entry, its slot in the queue, a key's
 * map entry): counted against `maxBuffered`, else a stalled client sent small messages holds
 * ~100 bytes of heap per byte counted (55 MB under a 1 MiB cap, measured).
 */
export const PENDING_COST = 128

/** One pending message. */
export class Pending<T> {
  dead = false
  constructor(
    /** Kept only when a `merge` needs the previous value. */
    public value: T | undefined,
    public part: Part,
    public bytes: number,
    public key: string | undefined,
    public volatile: boolean,
  ) {}
}

/** The queue, its conflation and its flush schedule; subclasses say where frames go. */
export abstract class BatchQueue<T> {
  protected readonly o: ResolvedBatchedOptions<T>
  protected readonly codec: Codec
  protected readonly counters: WsCounters
  protected readonly source: EventLoopSource
  protected queue: Pending<T>[] = []
  /** Pending messages that are not conflated away. */
  protected live = 0
  /** Bytes of the live pending messages. */
  protected queuedBytes = 0
  /** True while the client is too slow to write to (above the high watermark). */
  protected paused = false
  protected closed = false
  /** The current batch size (adaptive). */
  protected limit: number
  private deadCount = 0
  /** During a flush, where the unwritten part of the queue starts (what is before it was written). */
  private head = 0
  private keys: Map<string, Pending<T>> | undefined
  private firstAt = 0
  private scheduled = false
  private immediate: NodeJS.Immediate | undefined
  private timer: TimerHandle | undefined
  /** Made on the first schedule: an idle connection carries no closure for it. */
  private tick: (() => void) | undefined

  constructor(options: ResolvedBatchedOptions<T>) {
    this.o = options
    this.codec = codecFor(options.format)
    this.counters = countersFor(options.monitor, options.name)
    this.source = options.eventLoop ?? sharedEventLoop()
    this.limit = options.maxBatch
    if (options.windowMs === WINDOW_ADAPTIVE) holdSource(this.source)
  }

  /** The wire format of the frames written. */
  get format(): ResolvedBatchedOptions<T>['format'] {
    return this.o.format
  }

  /**
   * What the queue holds in memory: its encoded bytes plus `PENDING_COST` per pending message (the
   * slots of replaced or dropped ones hold no payload and are compacted past max(32, live)).
   */
  protected get queuedCost(): number {
    return this.queuedBytes + this.live * PENDING_COST
  }

  /** Messages waiting to be written. */
  get pending(): number {
    return this.live
  }

  /**
   * Queues `message` (encoded now: a value the codec refuses throws here, nothing is queued).
   * Returns false when it was dropped: the batcher is closed, or it is `volatile` and the client
   * is slow.
   */
  send(message: T, options?: SendOptions): boolean {
    if (this.closed) {
      this.counters.dropped++
      return false
    }
    let key: string | undefined
    let volatile = false
    let priority = 0
    if (options !== undefined) {
      key = options.key
      volatile = options.volatile === true
      priority = options.priority ?? 0
    }
    if (volatile && this.paused) {
      this.counters.dropped++
      return false
    }
    const merge = this.o.merge
    if (key !== undefined && merge !== undefined) {
      const previous = this.keys?.get(key)
      if (previous !== undefined) message = merge(previous.value as T, message, key)
    }
    const part = this.codec.encode(message)
    this.enqueue(
      new Pending(
        merge !== undefined && key !== undefined ? message : undefined,
        part,
        part.length,
        key,
        volatile,
      ),
    )
    if (this.paused) {
      this.overflowed()
      return !this.closed
    }
    if (
      priority >= this.o.priorityThreshold ||
      this.live >= this.limit ||
      this.queuedBytes >= this.o.maxBytes
    ) {
      this.flush()
    } else if (!this.scheduled && !this.blocked()) {
      // (blocked() pauses a connection whose client is already slow: no batch is scheduled)
      this.schedule()
    }
    return !this.closed
  }

  /** Adds an encoded message, replacing a pending one of the same key. */
  protected enqueue(entry: Pending<T>): void {
    const key = entry.key
    if (key !== undefined) {
      this.keys ??= new Map()
      const previous = this.keys.get(key)
      if (previous !== undefined) {
        // the old slot dies and the new value goes to the end: an update never overtakes a
        // message sent after the one it replaces
        this.kill(previous)
        this.counters.conflated++
      }
      this.keys.set(key, entry)
    }
    if (this.live === 0) this.firstAt = performance.now()
    this.queue.push(entry)
    this.live++
    this.queuedBytes += entry.bytes
    if (this.deadCount > 32 && this.deadCount > this.live) this.compact()
  }

  /**
   * Queues a message another queue encoded (a broadcast taken into a member's queue): a pending
   * message of the same key is `merge`d with it (re-encoded), as `send()` would.
   */
  protected adopt(e: Pending<T>): void {
    const merge = this.o.merge
    const key = e.key
    if (merge !== undefined && key !== undefined && e.value !== undefined) {
      const previous = this.keys?.get(key)
      if (previous !== undefined) {
        const value = merge(previous.value as T, e.value, key)
        const part = this.codec.encode(value)
        this.enqueue(new Pending(value, part, part.length, key, e.volatile))
        return
      }
    }
    this.enqueue(new Pending(e.value, e.part, e.bytes, key, e.volatile))
  }

  /** Marks a pending message as gone (conflated or dropped). */
  protected kill(entry: Pending<T>): void {
    entry.dead = true
    // its slot stays until the queue is compacted or flushed: let its payload go now
    entry.part = ''
    entry.value = undefined
    this.live--
    this.deadCount++
    this.queuedBytes -= entry.bytes
  }

  /** Drops pending volatile messages (the client became slow). */
  protected dropVolatile(): void {
    const queue = this.queue
    for (let i = this.head; i < queue.length; i++) {
      const e = queue[i] as Pending<T>
      if (e.dead || !e.volatile) continue
      this.kill(e)
      if (e.key !== undefined && this.keys?.get(e.key) === e) this.keys.delete(e.key)
      this.counters.dropped++
    }
  }

  private compact(): void {
    this.queue = this.queue.filter((e) => !e.dead)
    this.deadCount = 0
  }

  /**
   * Sets the batch size from the load; returns the window in ms (0: end of the turn). The size
   * follows the highest of loop utilization, loop delay and the client's buffer (bigger frames
   * cost no latency); the window opens (above half load) only for utilization, when the loop
   * itself is the bottleneck: a slow client is backpressure's business, a delay with a quiet loop
   * is the machine's (see load.ts).
   */
  private adapt(): number {
    const w = this.o.windowMs
    if (w === WINDOW_TURN) return 0
    if (w !== WINDOW_ADAPTIVE) return w
    const o = this.o
    const wait = utilizationLoad(this.source)
    const load = Math.max(wait, delayLoad(this.source), bufferLoad(this.socketBuffered(), o.highWatermark))
    this.limit = load === 0 ? o.maxBatch : Math.round(o.maxBatch + (o.topBatch - o.maxBatch) * load)
    return wait > 0.5 ? Math.max(1, Math.round(o.maxWaitMs * (wait - 0.5) * 2)) : 0
  }

  private schedule(): void {
    this.scheduled = true
    const ms = this.adapt()
    this.tick ??= () => {
      this.scheduled = false
      this.immediate = undefined
      this.timer = undefined
      this.flush()
    }
    if (ms === 0) this.immediate = setImmediate(this.tick)
    else this.timer = this.o.clock.setTimeout(this.tick, ms)
  }

  private unschedule(): void {
    if (!this.scheduled) return
    this.scheduled = false
    if (this.immediate !== undefined) clearImmediate(this.immediate)
    if (this.timer !== undefined) this.o.clock.clearTimeout(this.timer)
    this.immediate = undefined
    this.timer = undefined
  }

  /**
   * Writes what is pending now, in frames of the current batch size, until the client's buffer
   * passes the high watermark (the rest stays queued and keeps conflating).
   *
   * A flush ahead of schedule (priority, size, bytes) leaves the scheduled immediate or timer
   * armed: when it fires it writes what came since, which a window allows (it is a maximum
   * wait). Clearing it here would cost more than our own work on the urgent path: Node's
   * clearTimeout/clearImmediate, and the schedule the next send makes again, reach into C++ to
   * unref and re-ref the loop's timer when the last one goes (~16 us measured on a cold urgent
   * send, next to ~30 us for the socket write itself).
   */
  flush(): void {
    if (this.live === 0 || this.closed) return
    if (this.o.windowMs === WINDOW_ADAPTIVE) this.adapt()
    const queue = this.queue
    const waited = performance.now() - this.firstAt
    let i = 0
    while (i < queue.length) {
      // a pause here drops the volatile messages still queued, not those just written
      this.head = i
      const stop = this.blocked()
      this.head = 0
      if (stop) break
      const start = i
      const parts: Part[] = []
      let bytes = 0
      while (i < queue.length && parts.length < this.limit && bytes < this.o.maxBytes) {
        const e = queue[i++] as Pending<T>
        if (e.dead) continue
        parts.push(e.part)
        bytes += e.bytes
      }
      if (parts.length === 0) continue
      this.live -= parts.length
      this.queuedBytes -= bytes
      this.write(this.codec.frame(parts), parts.length, waited, queue, start, i)
      if (this.closed) return
    }
    if (this.closed) return
    if (i >= queue.length) {
      this.queue = []
      this.deadCount = 0
      this.live = 0
      this.queuedBytes = 0
      this.keys?.clear()
      return
    }
    for (let j = 0; j < i; j++) {
      const e = queue[j] as Pending<T>
      if (e.key !== undefined && this.keys?.get(e.key) === e) this.keys.delete(e.key)
    }
    this.queue = queue.slice(i)
    this.deadCount = 0
    for (const e of this.queue) if (e.dead) this.deadCount++
  }

  /** Drops everything pending and stops (the connection is gone). */
  protected discard(): void {
    if (this.closed) return
    this.closed = true
    this.unschedule()
    this.counters.dropped += this.live
    this.queue = []
    this.keys = undefined
    this.live = 0
    this.deadCount = 0
    this.queuedBytes = 0
    if (this.o.windowMs === WINDOW_ADAPTIVE) letGoSource(this.source)
  }

  /** Bytes in the client's socket buffer (0 for a group). */
  protected abstract socketBuffered(): number
  /** True when nothing more may be written now (the client is slow). */
  protected abstract blocked(): boolean
  /** Called after a message was queued while paused: enforce the caps. */
  protected abstract overflowed(): void
  /** Writes one frame holding the live messages of `queue[start..end)`. */
  protected abstract write(
    frame: string | Uint8Array,
    count: number,
    waitedMs: number,
    queue: Pending<T>[],
    start: number,
    end: number,
  ): void
}
