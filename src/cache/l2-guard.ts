/**
 * Guards every L2 operation with a timeout and a circuit breaker, so a slow or dead Redis costs
 * callers at most one timeout and then nothing until it recovers.
 *
 * Timeouts: all operations share one timeout, so their deadlines arrive in the order they were
 * started; a FIFO of pending operations and a single timer replace one timer per call.
 * Breaker: after `threshold` consecutive failures L2 is skipped; a background probe (PING)
 * closes it again as soon as Redis answers, so no caller pays for the probing.
 */
import type { Clock, TimerHandle } from '../time.js'

/** Returned instead of a result when the operation failed, timed out, or L2 was skipped. */
export const FAIL: unique symbol = Symbol('hotpath.l2.fail')
/** The failure sentinel's type. */
export type Fail = typeof FAIL

/**
 * Returned when Redis answered with an error reply (OOM under noeviction, WRONGTYPE, a value or
 * TTL it cannot hold): Redis is up, so this is not counted toward the breaker and never retried
 * (regression: one OOM write was replayed every probe, and its failure reopened the breaker each
 * time, taking every read off L2 for as long as the process ran).
 */
export const REFUSED: unique symbol = Symbol('hotpath.l2.refused')
/** The refusal sentinel's type. */
export type Refused = typeof REFUSED

/**
 * Reply errors that mean "Redis cannot serve right now" (loading, failing over, a busy script)
 * rather than "Redis will never take this": those count as unavailability. Searched anywhere in
 * the message, because a Lua script's error wraps the inner command's ("ERR Error running script
 * ...: CLUSTERDOWN ...").
 */
const TRANSIENT_REPLY = /\b(LOADING|BUSY|MASTERDOWN|CLUSTERDOWN|TRYAGAIN|READONLY|MOVED|ASK|NOREPLICAS)\b/

/** True when `err` is Redis refusing the command itself (a reply error that retrying cannot fix). */
export function isRefusal(err: unknown): boolean {
  if (typeof err !== 'object' || err === null || (err as Error).name !== 'ReplyError') return false
  return !TRANSIENT_REPLY.test(String((err as Error).message))
}

/** Breaker state of the L2 tier. */
export type BreakerState = 'closed' | 'open' | 'half-open'

interface Pending {
  deadline: number
  done: boolean
  resolve: (v: unknown) => void
}

/** Guard settings. */
export interface GuardOptions {
  timeout: number
  threshold: number
  probeInterval: number
  clock: Clock
  probe: () => Promise<unknown>
  onFailure: (op: string, error: unknown) => void
  /** Redis refused an operation (a reply error): reported, never counted toward the breaker. */
  onRefused: (op: string, error: unknown) => void
  onStateChange: (state: BreakerState) => void
  /** The connection's readiness, so time spent on the first connect is not counted as slowness. */
  connection?: {
    isReady(): boolean
    onReady(cb: () => void): void
    onDown(cb: () => void): void
    connectTimeout: number
  }
}

/** Timeout + breaker around L2 operations. */
export class L2Guard {
  state: BreakerState = 'closed'
  errors = 0
  timeouts = 0
  /** Operations Redis refused with a reply error (dropped, not retried). */
  refused = 0
  private failures = 0
  private readonly queue: Pending[] = []
  private queueHead = 0
  private timer: TimerHandle | undefined
  private probeTimer: TimerHandle | undefined
  private closed = false

  /**
   * Operations started before the connection was first ready: their timeout starts when it is
   * ready (a slow first connect is not a slow Redis), or fails them after `connectTimeout`.
   */
  private connecting: Pending[] | null = null
  private connectTimer: TimerHandle | undefined

  constructor(private readonly o: GuardOptions) {
    const c = o.connection
    if (c !== undefined && !c.isReady()) {
      this.connecting = []
      const settle = (ready: boolean) => {
        const waiting = this.connecting
        if (waiting === null) return
        this.connecting = null
        if (this.connectTimer !== undefined) o.clock.clearTimeout(this.connectTimer)
        const deadline = o.clock.now() + (ready ? o.timeout : 0)
        for (const p of waiting) {
          if (p.done) continue
          p.deadline = deadline
          this.queue.push(p)
        }
        if (this.timer === undefined) this.arm()
      }
      this.connectTimer = o.clock.setBackgroundTimeout(() => settle(false), c.connectTimeout)
      c.onReady(() => settle(true))
      // a refused or dropped first connection fails the waiting operations at once
      c.onDown(() => settle(false))
    }
  }

  /** True when operations are sent to L2. */
  get available(): boolean {
    return this.state === 'closed'
  }

  /**
   * Runs `promise` under the timeout; resolves to its value, FAIL (transport failure or timeout)
   * or REFUSED (Redis answered with an error reply). Never rejects.
   */
  run<T>(op: string, promise: Promise<T>): Promise<T | Fail | Refused> {
    return new Promise<T | Fail | Refused>((resolve) => {
      const p: Pending = {
        deadline: this.o.clock.now() + this.o.timeout,
        done: false,
        resolve: resolve as (v: unknown) => void,
      }
      if (this.connecting !== null) this.connecting.push(p)
      else {
        this.queue.push(p)
        if (this.timer === undefined) this.arm()
      }
      promise.then(
        (v) => {
          if (p.done) return
          p.done = true
          this.failures = 0
          resolve(v)
        },
        (err: unknown) => {
          if (p.done) return
          p.done = true
          if (isRefusal(err)) {
            // Redis answered: the connection is healthy
            this.failures = 0
            this.refused++
            this.o.onRefused(op, err)
            resolve(REFUSED)
            return
          }
          this.errors++
          this.fail(op, err)
          resolve(FAIL)
        },
      )
    })
  }

  /** Stops timers; pending operations resolve to FAIL. */
  close(): void {
    this.closed = true
    if (this.timer !== undefined) this.o.clock.clearTimeout(this.timer)
    if (this.probeTimer !== undefined) this.o.clock.clearTimeout(this.probeTimer)
    if (this.connectTimer !== undefined) this.o.clock.clearTimeout(this.connectTimer)
    for (const p of this.connecting ?? []) {
      if (!p.done) {
        p.done = true
        p.resolve(FAIL)
      }
    }
    this.connecting = null
    this.timer = undefined
    this.probeTimer = undefined
    for (let i = this.queueHead; i < this.queue.length; i++) {
      const p = this.queue[i] as Pending
      if (!p.done) {
        p.done = true
        p.resolve(FAIL)
      }
    }
    this.queue.length = 0
    this.queueHead = 0
  }

  private arm(): void {
    // skip operations that already finished
    while (this.queueHead < this.queue.length && (this.queue[this.queueHead] as Pending).done)
      this.queueHead++
    if (this.queueHead >= this.queue.length) {
      this.queue.length = 0
      this.queueHead = 0
      this.timer = undefined
      return
    }
    const first = this.queue[this.queueHead] as Pending
    const wait = Math.max(0, first.deadline - this.o.clock.now())
    this.timer = this.o.clock.setTimeout(() => this.expire(), wait + 1)
  }

  private expire(): void {
    this.timer = undefined
    const now = this.o.clock.now()
    let timedOut = 0
    while (this.queueHead < this.queue.length) {
      const p = this.queue[this.queueHead] as Pending
      if (!p.done) {
        if (p.deadline > now) break
        p.done = true
        p.resolve(FAIL)
        timedOut++
      }
      this.queueHead++
    }
    if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
      this.queue.splice(0, this.queueHead)
      this.queueHead = 0
    }
    if (timedOut > 0) {
      this.timeouts += timedOut
      this.fail('timeout', new Error(`L2 did not answer within ${this.o.timeout}ms`))
    }
    if (!this.closed) this.arm()
  }

  private fail(op: string, err: unknown): void {
    this.o.onFailure(op, err)
    if (++this.failures >= this.o.threshold && this.state === 'closed') this.open()
  }

  private open(): void {
    this.state = 'open'
    this.o.onStateChange('open')
    this.scheduleProbe()
  }

  private scheduleProbe(): void {
    if (this.closed) return
    this.probeTimer = this.o.clock.setBackgroundTimeout(() => {
      this.probeTimer = undefined
      this.state = 'half-open'
      this.o.onStateChange('half-open')
      const deadline = new Promise<Fail>((resolve) => {
        const t = this.o.clock.setBackgroundTimeout(() => resolve(FAIL), this.o.timeout)
        this.o
          .probe()
          .then(
            () => resolve('ok' as unknown as Fail),
            () => resolve(FAIL),
          )
          .finally(() => this.o.clock.clearTimeout(t))
      })
      void deadline.then((r) => {
        if (this.closed) return
        if (r === FAIL) {
          this.state = 'open'
          this.o.onStateChange('open')
          this.scheduleProbe()
        } else {
          this.failures = 0
          this.state = 'closed'
          this.o.onStateChange('closed')
        }
      })
    }, this.o.probeInterval)
  }
}
