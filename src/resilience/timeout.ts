/**
 * timeout(): gives up on a call after a fixed duration.
 *
 * No timer and no AbortController per call: every call of one policy has the same duration, so
 * deadlines arrive in call order; pending calls sit in a FIFO and one timer serves the head.
 * The context's `signal` is created only if the function reads it. A function that returns a
 * plain value (or throws) never touches the queue.
 *
 * Strategies: 'aggressive' rejects at the deadline with E_TIMEOUT and aborts the signal;
 * 'cooperative' aborts the signal at the deadline and waits for the function to settle (it is
 * expected to stop): a late failure becomes E_TIMEOUT, a late success is returned.
 */
import { TimeoutError } from '../errors.js'
import { Events } from '../events.js'
import { type Clock, type Duration, systemClock, toMs } from '../time.js'
import type { MonitorLike } from '../types.js'
import type { Policy, PolicyContext, Work } from './policy.js'

/** Options of `timeout()`. */
export interface TimeoutOptions {
  /** 'aggressive' rejects at the deadline; 'cooperative' aborts the signal and waits. @default 'aggressive' */
  strategy?: 'aggressive' | 'cooperative'
  /** Name for metrics and errors. @default 'timeout' */
  name?: string
  /** @default systemClock */
  clock?: Clock
  /** Monitor to report into. */
  monitor?: MonitorLike
}

/** Events of a timeout policy. */
export interface TimeoutEvents {
  timeout: { ms: number }
}

const NEVER = new AbortController().signal

/** One call in flight: its context, deadline and settle functions. */
class Call implements PolicyContext {
  readonly attempt = 1
  deadline = 0
  done = false
  timedOut = false
  controller: AbortController | undefined = undefined
  resolve: ((v: unknown) => void) | undefined = undefined
  reject: ((e: unknown) => void) | undefined = undefined
  constructor(readonly parent: AbortSignal | undefined) {}

  get signal(): AbortSignal {
    if (this.controller === undefined) {
      if (this.parent === undefined && this.done) return NEVER
      const c = new AbortController()
      this.controller = c
      const parent = this.parent
      if (parent !== undefined) {
        if (parent.aborted) c.abort(parent.reason)
        else parent.addEventListener('abort', () => c.abort(parent.reason), { once: true })
      }
    }
    return this.controller.signal
  }
}

/** A timeout policy. */
export class TimeoutPolicy implements Policy {
  readonly kind = 'timeout'
  readonly name: string
  readonly ms: number
  private readonly aggressive: boolean
  private readonly clock: Clock
  private readonly events = new Events<TimeoutEvents>()
  private readonly queue: Call[] = []
  private head = 0
  private timer: unknown = undefined
  private counts = { calls: 0, timeouts: 0 }

  constructor(duration: Duration, options: TimeoutOptions = {}) {
    this.ms = toMs(duration, 'timeout duration')
    if (this.ms <= 0)
      throw new RangeError(`timeout duration must be greater than 0; received ${String(duration)}`)
    const strategy = options.strategy ?? 'aggressive'
    if (strategy !== 'aggressive' && strategy !== 'cooperative') {
      throw new TypeError(`strategy must be 'aggressive' or 'cooperative'; received ${String(strategy)}`)
    }
    this.aggressive = strategy === 'aggressive'
    this.name = options.name ?? 'timeout'
    this.clock = options.clock ?? systemClock
    options.monitor?.attach(this)
  }

  /** Runs `fn` with the deadline. */
  execute<T>(fn: Work<T>, signal?: AbortSignal): Promise<T> {
    this.counts.calls++
    const call = new Call(signal)
    let r: T | Promise<T>
    try {
      r = fn(call)
    } catch (err) {
      call.done = true
      return Promise.reject(err)
    }
    if (!(r instanceof Promise)) {
      call.done = true
      return Promise.resolve(r)
    }
    return new Promise<T>((resolve, reject) => {
      call.resolve = resolve as (v: unknown) => void
      call.reject = reject
      call.deadline = this.clock.now() + this.ms
      this.queue.push(call)
      if (this.timer === undefined) this.arm()
      r.then(
        (v) => {
          if (call.done) return
          call.done = true
          // cooperative: the function finished after the abort; its value stands
          resolve(v)
        },
        (e: unknown) => {
          if (call.done) return
          call.done = true
          reject(call.timedOut ? new TimeoutError(this.message()) : e)
        },
      )
    })
  }

  private message(): string {
    return `"${this.name}" gave up after ${this.ms}ms; raise the timeout or make the call faster`
  }

  private arm(): void {
    const q = this.queue
    while (this.head < q.length && (q[this.head] as Call).done) this.head++
    if (this.head >= q.length) {
      q.length = 0
      this.head = 0
      this.timer = undefined
      return
    }
    const wait = Math.max(0, (q[this.head] as Call).deadline - this.clock.now())
    this.timer = this.clock.setTimeout(() => this.fire(), wait)
  }

  private fire(): void {
    this.timer = undefined
    const now = this.clock.now()
    const q = this.queue
    while (this.head < q.length) {
      const call = q[this.head] as Call
      if (!call.done) {
        if (call.deadline > now) break
        call.timedOut = true
        this.counts.timeouts++
        if (this.events.has('timeout')) this.events.emit('timeout', { ms: this.ms })
        const err = new TimeoutError(this.message())
        call.controller?.abort(err)
        if (this.aggressive) {
          call.done = true
          call.reject?.(err)
        }
      }
      this.head++
    }
    if (this.head > 1024 && this.head * 2 > q.length) {
      q.splice(0, this.head)
      this.head = 0
    }
    this.arm()
  }

  /** Subscribes to 'timeout'. */
  on<K extends keyof TimeoutEvents>(event: K, listener: (payload: TimeoutEvents[K]) => void) {
    return this.events.on(event, listener)
  }

  /** Counters and calls in flight. */
  stats() {
    let pending = 0
    for (let i = this.head; i < this.queue.length; i++) if (!(this.queue[i] as Call).done) pending++
    return { ...this.counts, pending, ms: this.ms }
  }
}

/** Creates a timeout policy of `duration`. */
export function timeout(duration: Duration, options: TimeoutOptions = {}): TimeoutPolicy {
  return new TimeoutPolicy(duration, options)
}
