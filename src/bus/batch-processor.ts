/**
 * createBatchProcessor(): gathers items per key and hands them to one handler call per batch.
 * A key's batch is flushed when it reaches `maxSize` items or `maxBytes`, or `maxWait` after its
 * first item arrived, whichever comes first. At most `concurrency` handler calls run at once;
 * ready batches wait in arrival order, so one busy key cannot hold the others back. A handler
 * may fail single items (`batch.fail(i, err)`) or throw (every item fails); failed items are
 * retried with the backoff, alone in later batches, and the promise `add()` returned settles
 * only when the item's fate is known, so a caller acknowledges only what was really handled.
 */
import { type Clock, type Duration, systemClock } from '../time.js'
import { type BatchRetryOptions, resolveBatchProcessorOptions } from './batch-options.js'
import { BatchFullError, isNonRetryable } from './errors.js'

export type { BatchRetryOptions } from './batch-options.js'

/** What a handler receives besides the items. */
export interface Batch {
  /** The batch key (the `key` given to `add`). */
  readonly key: string
  /** Why it was flushed: 'size', 'bytes', 'time' (maxWait) or 'flush' (flush() or close()). */
  readonly reason: 'size' | 'bytes' | 'time' | 'flush'
  /** How late a time flush ran after its deadline, in ms (0 for other reasons). */
  readonly lateness: number
  /** Marks item `index` as failed: it is retried (or rejected) while the others succeed. */
  fail(index: number, error: unknown): void
}

/** Handles one batch; throwing fails every item of it. */
export type BatchHandler<T> = (items: T[], batch: Batch) => void | Promise<void>

/** Options of `createBatchProcessor()`. */
export interface BatchProcessorOptions<T> {
  /** Called with each batch. */
  handler: BatchHandler<T>
  /** Items that flush a batch at once. @default 100 */
  maxSize?: number
  /** Longest an item waits for its batch to fill. @default '100ms' */
  maxWait?: Duration
  /** Bytes (by `sizeOf`) that flush a batch at once. @default Infinity */
  maxBytes?: number
  /** An item's size in bytes, for `maxBytes`. @default JSON length (only called when maxBytes is set) */
  sizeOf?: (item: T) => number
  /** Handler calls running at once. @default 1 */
  concurrency?: number
  /** Retries of failed items (false: none). @default { attempts: 3, backoff: exponential 100ms..30s, jitter } */
  retry?: BatchRetryOptions | false
  /** Items accepted and not yet settled; above it `add` waits ('block') or throws ('reject'). @default 100000 */
  maxPending?: number
  /** What `add` does when `maxPending` items are pending. @default 'block' */
  whenFull?: 'block' | 'reject'
  /** @default systemClock */
  clock?: Clock
}

interface Item<T> {
  value: T
  bytes: number
  attempt: number
  resolve: () => void
  reject: (err: unknown) => void
}

interface Bucket<T> {
  key: string
  items: Item<T>[]
  bytes: number
  deadline: number
  timer: unknown
}

/** Counters of a batch processor. */
export interface BatchProcessorStats {
  /** Items accepted by `add`. */
  added: number
  /** Handler calls. */
  batches: number
  /** Items handled successfully. */
  succeeded: number
  /** Items rejected for good (retries exhausted or not retryable). */
  failed: number
  /** Item retries scheduled. */
  retries: number
  /** Flushes by reason. */
  bySize: number
  byBytes: number
  byTime: number
  /** Largest lateness of a time flush, ms. */
  maxLatenessMs: number
  /** Items accepted and not yet settled. */
  pending: number
  /** Handler calls running. */
  running: number
}

/** A batch processor; see `createBatchProcessor`. */
export class BatchProcessor<T> {
  private readonly o: ReturnType<typeof resolveBatchProcessorOptions<T>>
  private readonly clock: Clock
  private readonly buckets = new Map<string, Bucket<T>>()
  private readonly ready: Array<{ bucket: Bucket<T>; reason: Batch['reason']; lateness: number }> = []
  private readonly waiters: Array<() => void> = []
  private readonly idle: Array<() => void> = []
  private readonly retrying = new Map<unknown, { key: string; item: Item<T> }>()
  private closed = false
  private s = { added: 0, batches: 0, succeeded: 0, failed: 0, retries: 0, bySize: 0, byBytes: 0, byTime: 0 }
  private maxLateness = 0
  private pendingCount = 0
  private runningCount = 0

  constructor(options: BatchProcessorOptions<T>) {
    this.o = resolveBatchProcessorOptions(options)
    this.clock = this.o.clock ?? systemClock
  }

  /** Items accepted and not yet settled. */
  get pending(): number {
    return this.pendingCount
  }

  /**
   * Adds an item to the batch of `key`. The promise resolves when the item was handled, rejects
   * with the handler's error when it failed for good. With `whenFull: 'block'` it first waits for
   * room when `maxPending` items are pending.
   */
  async add(item: T, key = ''): Promise<void> {
    if (this.closed) throw new TypeError('the batch processor is closed; create a new one')
    while (this.pendingCount >= this.o.maxPending) {
      if (this.o.whenFull === 'reject') throw new BatchFullError(this.o.maxPending)
      await new Promise<void>((r) => this.waiters.push(r))
      if (this.closed) throw new TypeError('the batch processor is closed; create a new one')
    }
    return new Promise<void>((resolve, reject) => {
      this.s.added++
      this.pendingCount++
      const bytes = this.o.maxBytes === Number.POSITIVE_INFINITY ? 0 : this.o.sizeOf(item)
      this.put(key, { value: item, bytes, attempt: 1, resolve, reject })
    })
  }

  private put(key: string, item: Item<T>): void {
    let b = this.buckets.get(key)
    if (b === undefined) {
      const deadline = this.clock.now() + this.o.maxWait
      b = { key, items: [], bytes: 0, deadline, timer: undefined }
      const bucket = b
      // the caller awaits add(): the flush timer keeps the process alive
      b.timer = this.clock.setTimeout(() => this.timeFlush(bucket), this.o.maxWait)
      this.buckets.set(key, b)
    }
    b.items.push(item)
    b.bytes += item.bytes
    if (b.items.length >= this.o.maxSize) this.seal(b, 'size', 0)
    else if (b.bytes >= this.o.maxBytes) this.seal(b, 'bytes', 0)
  }

  private timeFlush(b: Bucket<T>): void {
    if (this.buckets.get(b.key) !== b) return
    this.seal(b, 'time', Math.max(0, this.clock.now() - b.deadline))
  }

  private seal(b: Bucket<T>, reason: Batch['reason'], lateness: number): void {
    this.buckets.delete(b.key)
    this.clock.clearTimeout(b.timer)
    if (reason === 'size') this.s.bySize++
    else if (reason === 'bytes') this.s.byBytes++
    else if (reason === 'time') {
      this.s.byTime++
      if (lateness > this.maxLateness) this.maxLateness = lateness
    }
    this.ready.push({ bucket: b, reason, lateness })
    this.pump()
  }

  private pump(): void {
    while (this.runningCount < this.o.concurrency && this.ready.length > 0) {
      const next = this.ready.shift() as (typeof this.ready)[number]
      this.runningCount++
      void this.run(next.bucket, next.reason, next.lateness)
    }
  }

  private async run(b: Bucket<T>, reason: Batch['reason'], lateness: number): Promise<void> {
    const items = b.items
    let failures: Map<number, unknown> | undefined
    const batch: Batch = {
      key: b.key,
      reason,
      lateness,
      fail(index, error) {
        if (!Number.isInteger(index) || index < 0 || index >= items.length) {
          throw new RangeError(`fail(index): index must be 0..${items.length - 1}; received ${index}`)
        }
        failures ??= new Map()
        failures.set(index, error)
      },
    }
    this.s.batches++
    let thrown: { error: unknown } | undefined
    try {
      await this.o.handler(
        items.map((i) => i.value),
        batch,
      )
    } catch (error) {
      thrown = { error }
    }
    this.runningCount--
    for (let i = 0; i < items.length; i++) {
      const item = items[i] as Item<T>
      const error = thrown !== undefined ? thrown.error : failures?.get(i)
      if (thrown === undefined && (failures === undefined || !failures.has(i))) {
        this.s.succeeded++
        this.settle(item, undefined, false)
      } else this.failed(b.key, item, error)
    }
    this.pump()
    this.checkIdle()
  }

  private failed(key: string, item: Item<T>, error: unknown): void {
    const r = this.o.retry
    if (r === false || item.attempt >= r.attempts || isNonRetryable(error) || this.closed) {
      this.s.failed++
      this.settle(item, error, true)
      return
    }
    this.s.retries++
    const delay = r.backoff.next(item.attempt, 0)
    item.attempt++
    const t = this.clock.setTimeout(() => {
      this.retrying.delete(t)
      this.put(key, item)
    }, delay)
    this.retrying.set(t, { key, item })
  }

  private settle(item: Item<T>, error: unknown, failed: boolean): void {
    this.pendingCount--
    if (failed) item.reject(error)
    else item.resolve()
    const w = this.waiters.shift()
    if (w !== undefined) w()
  }

  private checkIdle(): void {
    if (this.pendingCount > 0 || this.runningCount > 0) return
    for (const r of this.idle.splice(0)) r()
  }

  /** Flushes every partial batch now (they are handled within `concurrency`). */
  flush(): void {
    for (const b of [...this.buckets.values()]) this.seal(b, 'flush', 0)
  }

  /** Resolves when no item is pending (after flushing the partial batches). */
  async drain(): Promise<void> {
    this.flush()
    if (this.pendingCount === 0 && this.runningCount === 0) return
    await new Promise<void>((r) => this.idle.push(r))
  }

  /**
   * Stops accepting items, flushes and waits for pending ones; items still waiting for a retry
   * are retried at once, without further backoff. Items added while blocked are refused.
   */
  async close(): Promise<void> {
    if (this.closed) return this.drain()
    this.closed = true
    for (const w of this.waiters.splice(0)) w()
    // items waiting for a retry run now, in their last attempt (closed: a failure is final)
    for (const [t, { key, item }] of this.retrying) {
      this.clock.clearTimeout(t)
      this.put(key, item)
    }
    this.retrying.clear()
    return this.drain()
  }

  /** Counters and levels. */
  stats(): BatchProcessorStats {
    return {
      ...this.s,
      maxLatenessMs: this.maxLateness,
      pending: this.pendingCount,
      running: this.runningCount,
    }
  }
}

/** Creates a batch processor: size, bytes and time flushes per key, bounded concurrency, retries. */
export function createBatchProcessor<T>(options: BatchProcessorOptions<T>): BatchProcessor<T> {
  return new BatchProcessor(options)
}
