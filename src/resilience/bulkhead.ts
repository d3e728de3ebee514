/**
 * bulkhead(limit, queue) and semaphore(n): bound how much runs at once. A bulkhead runs up to
 * `limit` calls, queues up to `queue` more (FIFO), and rejects the rest with E_BULKHEAD_FULL.
 */
import { AbortedError } from '../errors.js'
import { Events } from '../events.js'
import { assertKnownKeys } from '../options.js'
import type { MonitorLike } from '../types.js'
import { BulkheadFullError } from './errors.js'
import { type Policy, rootContext, type Work } from './policy.js'
import { traceExecute, tracingChannels } from './tracing.js'

interface Waiter {
  resolve: () => void
  reject: (e: unknown) => void
  signal: AbortSignal | undefined
  onAbort: (() => void) | undefined
}

/** A counting semaphore with a FIFO of waiters. */
export class Semaphore {
  private inUse = 0
  private readonly waiters: Waiter[] = []
  constructor(
    readonly permits: number,
    option = 'permits',
  ) {
    if (!Number.isInteger(permits) || permits < 1)
      throw new RangeError(`${option} must be an integer >= 1; received ${permits}`)
  }

  /** Permits in use. */
  get active(): number {
    return this.inUse
  }

  /** Callers waiting for a permit. */
  get waiting(): number {
    return this.waiters.length
  }

  /** Takes a permit now if one is free. */
  tryAcquire(): boolean {
    if (this.inUse < this.permits) {
      this.inUse++
      return true
    }
    return false
  }

  /** Waits for a permit (FIFO); rejects with E_ABORTED if `signal` aborts first. */
  acquire(signal?: AbortSignal): Promise<void> {
    if (this.tryAcquire()) return Promise.resolve()
    if (signal?.aborted) return Promise.reject(new AbortedError(signal.reason))
    return new Promise<void>((resolve, reject) => {
      const w: Waiter = { resolve, reject, signal, onAbort: undefined }
      if (signal !== undefined) {
        w.onAbort = () => {
          const i = this.waiters.indexOf(w)
          if (i >= 0) this.waiters.splice(i, 1)
          reject(new AbortedError(signal.reason))
        }
        signal.addEventListener('abort', w.onAbort, { once: true })
      }
      this.waiters.push(w)
    })
  }

  /** Returns a permit, handing it to the oldest waiter. */
  release(): void {
    const w = this.waiters.shift()
    if (w === undefined) {
      if (this.inUse > 0) this.inUse--
      return
    }
    if (w.onAbort !== undefined) w.signal?.removeEventListener('abort', w.onAbort)
    w.resolve()
  }

  /** Runs `fn` holding a permit. */
  async use<T>(fn: () => T | Promise<T>, signal?: AbortSignal): Promise<T> {
    await this.acquire(signal)
    try {
      return await fn()
    } finally {
      this.release()
    }
  }
}

/** Creates a semaphore of `permits`. */
export function semaphore(permits: number): Semaphore {
  return new Semaphore(permits)
}

/** Options of `bulkhead()`. */
export interface BulkheadOptions {
  /** @default 'bulkhead' */
  name?: string
  monitor?: MonitorLike
}

/** A bulkhead policy. */
export class BulkheadPolicy implements Policy {
  readonly kind = 'bulkhead'
  readonly name: string
  private readonly sem: Semaphore
  private readonly events = new Events<{ rejected: { running: number; queued: number } }>()
  private counts = { calls: 0, rejections: 0 }

  constructor(
    readonly limit: number,
    readonly queue = 0,
    options: BulkheadOptions = {},
  ) {
    if (!Number.isInteger(queue) || queue < 0)
      throw new RangeError(`queue must be an integer >= 0; received ${queue}`)
    assertKnownKeys(options, ['name', 'monitor'], 'bulkhead options')
    this.sem = new Semaphore(limit, 'bulkhead limit')
    this.name = options.name ?? 'bulkhead'
    options.monitor?.attach(this)
  }

  /** Runs `fn` in a slot, waits in the queue, or rejects with E_BULKHEAD_FULL. */
  execute<T>(fn: Work<T>, signal?: AbortSignal): Promise<T> {
    if (tracingChannels.execute.hasSubscribers) return traceExecute(this, () => this.run(fn, signal))
    return this.run(fn, signal)
  }

  private async run<T>(fn: Work<T>, signal: AbortSignal | undefined): Promise<T> {
    this.counts.calls++
    if (!this.sem.tryAcquire()) {
      if (this.sem.waiting >= this.queue) {
        this.counts.rejections++
        if (this.events.has('rejected'))
          this.events.emit('rejected', { running: this.sem.active, queued: this.sem.waiting })
        throw new BulkheadFullError(this.name, this.limit, this.queue)
      }
      await this.sem.acquire(signal)
    }
    try {
      return await fn(rootContext(signal))
    } finally {
      this.sem.release()
    }
  }

  on(event: 'rejected', listener: (payload: { running: number; queued: number }) => void) {
    return this.events.on(event, listener)
  }

  /** Running and queued calls, and counters. */
  stats() {
    return {
      ...this.counts,
      running: this.sem.active,
      queued: this.sem.waiting,
      limit: this.limit,
      queueLimit: this.queue,
    }
  }
}

/** Creates a bulkhead running `limit` calls at once with `queue` waiting. */
export function bulkhead(limit: number, queue = 0, options: BulkheadOptions = {}): BulkheadPolicy {
  return new BulkheadPolicy(limit, queue, options)
}
