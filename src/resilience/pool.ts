/**
 * createPool(): a generic resource pool (connections, workers, browser pages...). Lends idle
 * resources first (most recently used, so extras can idle out), creates up to `max`, queues
 * borrowers FIFO up to `acquireTimeout`, validates on borrow, destroys resources idle longer
 * than `idleTimeout` down to `min`, and drains gracefully.
 */
import { AbortedError } from '../errors.js'
import { Events } from '../events.js'
import { assertKnownKeys } from '../options.js'
import { type Clock, type Duration, systemClock, toTimerMs } from '../time.js'
import type { MonitorLike } from '../types.js'
import { AcquireTimeoutError, PoolCreateError, PoolDrainingError } from './errors.js'

/** Options of `createPool()`. */
export interface PoolOptions<R> {
  /** Makes a resource. */
  create: () => R | Promise<R>
  /** Disposes of a resource. @default no-op */
  destroy?: (resource: R) => void | Promise<void>
  /** Checked on borrow; false (or a throw) destroys the resource and lends another. */
  validate?: (resource: R) => boolean | Promise<boolean>
  /** Resources kept even when idle. @default 0 */
  min?: number
  /** Most resources at once. @default 10 */
  max?: number
  /** Idle resources above `min` are destroyed after this long. @default '30s' */
  idleTimeout?: Duration
  /** A borrower waits at most this long. @default '10s' */
  acquireTimeout?: Duration
  /** @default 'pool' */
  name?: string
  clock?: Clock
  monitor?: MonitorLike
}

const KNOWN = [
  'create',
  'destroy',
  'validate',
  'min',
  'max',
  'idleTimeout',
  'acquireTimeout',
  'name',
  'clock',
  'monitor',
] as const

/** First wait after a failed create(); doubles per failure in a row up to CREATE_BACKOFF_MAX. */
const CREATE_BACKOFF_MIN = 100
const CREATE_BACKOFF_MAX = 10_000

interface Idle<R> {
  resource: R
  since: number
}

interface Borrower<R> {
  resolve: (r: R) => void
  reject: (e: unknown) => void
  timer: unknown
  since: number
  signal: AbortSignal | undefined
  onAbort: (() => void) | undefined
}

/** A resource pool. */
export class Pool<R> {
  readonly kind = 'pool'
  readonly name: string
  private readonly o: Required<Pick<PoolOptions<R>, 'create'>> & PoolOptions<R>
  private readonly min: number
  private readonly max: number
  private readonly idleMs: number
  private readonly acquireMs: number
  private readonly clock: Clock
  private readonly idle: Array<Idle<R>> = []
  private readonly borrowed = new Set<R>()
  private readonly waiters: Array<Borrower<R>> = []
  private creating = 0
  // idle resources being validated on borrow: still resources, so they count toward max
  private validating = 0
  // consecutive create() failures: until createRetryAt, no new create() is attempted
  private createFailures = 0
  private createRetryAt = 0
  private lastCreateError: unknown
  private draining = false
  private readonly detachMonitor: (() => void) | undefined
  private sweepTimer: unknown
  private readonly events = new Events<{
    create: Record<string, never>
    destroy: { reason: string }
    error: { error: unknown }
  }>()
  private counts = {
    acquired: 0,
    created: 0,
    destroyed: 0,
    timeouts: 0,
    createErrors: 0,
    acquireMsTotal: 0,
    acquireMsMax: 0,
  }

  constructor(options: PoolOptions<R>) {
    if (typeof options?.create !== 'function')
      throw new TypeError('create must be a function that makes a resource')
    assertKnownKeys(options, KNOWN, 'createPool options')
    this.o = options
    this.name = options.name ?? 'pool'
    this.min = options.min ?? 0
    this.max = options.max ?? 10
    if (!Number.isInteger(this.max) || this.max < 1)
      throw new RangeError(`max must be an integer >= 1; received ${this.max}`)
    if (!Number.isInteger(this.min) || this.min < 0 || this.min > this.max) {
      throw new RangeError(`min must be an integer in [0, max]; received ${this.min}`)
    }
    this.idleMs = toTimerMs(options.idleTimeout ?? '30s', 'idleTimeout')
    this.acquireMs = toTimerMs(options.acquireTimeout ?? '10s', 'acquireTimeout')
    this.clock = options.clock ?? systemClock
    for (let i = 0; i < this.min; i++) void this.grow()
    this.detachMonitor = options.monitor?.attach(this)
  }

  private get size(): number {
    return this.idle.length + this.borrowed.size + this.creating + this.validating
  }

  /**
   * Borrows a resource; rejects with E_ACQUIRE_TIMEOUT, E_POOL_DRAINING, E_ABORTED, or
   * E_POOL_CREATE (the create() error as `cause`) when resources cannot be made.
   */
  async acquire(signal?: AbortSignal): Promise<R> {
    if (this.draining) throw new PoolDrainingError(this.name)
    if (signal?.aborted) throw new AbortedError(signal.reason)
    const since = this.clock.now()
    for (;;) {
      const idle = this.idle.pop()
      if (idle === undefined) break
      this.validating++
      let valid: boolean
      try {
        valid = await this.isValid(idle.resource)
      } finally {
        this.validating--
      }
      if (valid && !this.draining) return this.lend(idle.resource, since)
      void this.dispose(idle.resource, valid ? 'drain' : 'invalid')
      if (this.draining) throw new PoolDrainingError(this.name)
    }
    const waiting = new Promise<R>((resolve, reject) => {
      const b: Borrower<R> = { resolve, reject, timer: undefined, since, signal, onAbort: undefined }
      b.timer = this.clock.setTimeout(() => {
        this.removeWaiter(b)
        if (b.onAbort !== undefined) signal?.removeEventListener('abort', b.onAbort)
        this.counts.timeouts++
        reject(new AcquireTimeoutError(this.name, this.acquireMs))
      }, this.acquireMs)
      if (signal !== undefined) {
        b.onAbort = () => {
          this.removeWaiter(b)
          this.clock.clearTimeout(b.timer)
          reject(new AbortedError(signal.reason))
        }
        signal.addEventListener('abort', b.onAbort, { once: true })
      }
      this.waiters.push(b)
    })
    // queued first, so a create() that fails at once still finds the borrower to tell
    if (this.size < this.max) this.growForWaiters()
    return waiting
  }

  /**
   * Makes a resource for the waiters, unless create() is backing off after failures: then the
   * waiters are told at once (with the create error as cause) when nothing else could serve them.
   */
  private growForWaiters(): void {
    if (this.createFailures > 0 && this.clock.now() < this.createRetryAt) {
      if (this.borrowed.size === 0 && this.creating === 0) this.failWaiters(this.waiters.length)
      return
    }
    void this.grow()
  }

  /** Rejects the `n` oldest waiters with the last create() error as cause. */
  private failWaiters(n: number): void {
    for (const b of this.waiters.splice(0, n)) {
      this.clock.clearTimeout(b.timer)
      if (b.onAbort !== undefined) b.signal?.removeEventListener('abort', b.onAbort)
      b.reject(new PoolCreateError(this.name, this.createFailures, this.lastCreateError))
    }
  }

  private removeWaiter(b: Borrower<R>): void {
    const i = this.waiters.indexOf(b)
    if (i >= 0) this.waiters.splice(i, 1)
  }

  private async isValid(r: R): Promise<boolean> {
    if (this.o.validate === undefined) return true
    try {
      return await this.o.validate(r)
    } catch {
      return false
    }
  }

  private lend(r: R, since: number): R {
    this.borrowed.add(r)
    this.counts.acquired++
    const waited = this.clock.now() - since
    this.counts.acquireMsTotal += waited
    if (waited > this.counts.acquireMsMax) this.counts.acquireMsMax = waited
    return r
  }

  private async grow(): Promise<void> {
    this.creating++
    let r: R
    try {
      r = await this.o.create()
    } catch (error) {
      this.creating--
      this.counts.createErrors++
      this.createFailures++
      this.lastCreateError = error
      const wait = Math.min(CREATE_BACKOFF_MAX, CREATE_BACKOFF_MIN * 2 ** (this.createFailures - 1))
      this.createRetryAt = this.clock.now() + wait
      if (this.events.has('error')) this.events.emit('error', { error })
      // the oldest waiter learns why nothing is coming, instead of waiting for its timeout; the
      // others too when no borrowed resource or other create() could still serve them
      this.failWaiters(this.borrowed.size === 0 && this.creating === 0 ? this.waiters.length : 1)
      return
    }
    this.creating--
    this.createFailures = 0
    this.counts.created++
    if (this.events.has('create')) this.events.emit('create', {} as Record<string, never>)
    this.giveBack(r)
  }

  private giveBack(r: R): void {
    if (this.draining) {
      void this.dispose(r, 'drain')
      return
    }
    const b = this.waiters.shift()
    if (b !== undefined) {
      this.clock.clearTimeout(b.timer)
      if (b.onAbort !== undefined) b.signal?.removeEventListener('abort', b.onAbort)
      b.resolve(this.lend(r, b.since))
      return
    }
    this.idle.push({ resource: r, since: this.clock.now() })
    this.armSweep()
  }

  /** Returns a borrowed resource. */
  release(r: R): void {
    if (!this.borrowed.delete(r))
      throw new TypeError(`pool "${this.name}": release() of a resource it did not lend`)
    this.giveBack(r)
  }

  /** Destroys a borrowed resource that broke (the pool makes a new one if borrowers wait). */
  async destroy(r: R): Promise<void> {
    if (!this.borrowed.delete(r))
      throw new TypeError(`pool "${this.name}": destroy() of a resource it did not lend`)
    await this.dispose(r, 'broken')
    if (this.waiters.length > 0 && this.size < this.max && !this.draining) this.growForWaiters()
  }

  /** Borrows, runs `fn`, and returns the resource (destroying it if `fn` throws). */
  async use<T>(fn: (resource: R) => T | Promise<T>, signal?: AbortSignal): Promise<T> {
    const r = await this.acquire(signal)
    let ok = false
    try {
      const v = await fn(r)
      ok = true
      return v
    } finally {
      if (ok) this.release(r)
      else await this.destroy(r)
    }
  }

  private async dispose(r: R, reason: string): Promise<void> {
    this.counts.destroyed++
    if (this.events.has('destroy')) this.events.emit('destroy', { reason })
    try {
      await this.o.destroy?.(r)
    } catch (error) {
      if (this.events.has('error')) this.events.emit('error', { error })
    }
  }

  private armSweep(): void {
    if (this.sweepTimer !== undefined || this.idle.length <= this.min) return
    this.sweepTimer = this.clock.setBackgroundTimeout(() => {
      this.sweepTimer = undefined
      const now = this.clock.now()
      // idle is ordered oldest first: drop expired ones from the front while above min
      while (
        this.idle.length > 0 &&
        this.size > this.min &&
        now - (this.idle[0] as Idle<R>).since >= this.idleMs
      ) {
        const old = this.idle.shift() as Idle<R>
        void this.dispose(old.resource, 'idle')
      }
      this.armSweep()
    }, this.idleMs)
  }

  /** Stops lending, fails waiting borrowers, waits for borrowed resources, destroys everything. */
  async drain(): Promise<void> {
    this.draining = true
    this.detachMonitor?.()
    for (const b of this.waiters.splice(0)) {
      this.clock.clearTimeout(b.timer)
      if (b.onAbort !== undefined) b.signal?.removeEventListener('abort', b.onAbort)
      b.reject(new PoolDrainingError(this.name))
    }
    if (this.sweepTimer !== undefined) this.clock.clearTimeout(this.sweepTimer)
    await Promise.all(this.idle.splice(0).map((i) => this.dispose(i.resource, 'drain')))
    while (this.borrowed.size > 0 || this.creating > 0 || this.validating > 0)
      await new Promise((r) => setTimeout(r, 5))
  }

  on<K extends 'create' | 'destroy' | 'error'>(event: K, listener: (payload: never) => void) {
    return this.events.on(event, listener as never)
  }

  /** Size, in use, idle, waiting, and acquire latency. */
  stats() {
    const c = this.counts
    return {
      size: this.size,
      inUse: this.borrowed.size,
      idle: this.idle.length,
      waiting: this.waiters.length,
      pending: this.creating,
      validating: this.validating,
      min: this.min,
      max: this.max,
      acquired: c.acquired,
      created: c.created,
      destroyed: c.destroyed,
      timeouts: c.timeouts,
      createErrors: c.createErrors,
      acquireMsAvg: c.acquired === 0 ? 0 : c.acquireMsTotal / c.acquired,
      acquireMsMax: c.acquireMsMax,
    }
  }
}

/** Creates a resource pool. */
export function createPool<R>(options: PoolOptions<R>): Pool<R> {
  return new Pool(options)
}
