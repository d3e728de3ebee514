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
import { assertKnownKeys } from '../options.js'
import { type Clock, type Duration, systemClock, toTimerMs } from '../time.js'
import type { MonitorLike } from '../types.js'
import type { Policy, PolicyContext, Work } from './policy.js'
import { traceExecute, tracingChannels } from './tracing.js'

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
const KNOWN = ['strategy', 'name', 'clock', 'monitor'] as const

/** One call in flight: its context, deadline and settle functions, and its place in the list. */
class Call implements PolicyContext {
  readonly attempt = 1
  deadline = 0
  done = false
  timedOut = false
  controller: AbortController | undefined = undefined
  resolve: ((v: unknown) => void) | undefined = undefined
  reject: ((e: unknown) => void) | undefined = undefined
  // the listener on the caller's signal, removed when the call settles (one per call otherwise
  // piles up on a long-lived signal)
  onParentAbort: (() => void) | undefined = undefined
  prev: Call | undefined = undefined
  next: Call | undefined = undefined
  constructor(public parent: AbortSignal | undefined) {}

  get signal(): AbortSignal {
    if (this.controller === undefined) {
      if (this.done) return this.parent ?? NEVER
      const c = new AbortController()
      this.controller = c
      const parent = this.parent
      if (parent !== undefined) {
        if (parent.aborted) c.abort(parent.reason)
        else {
          this.onParentAbort = () => c.abort(parent.reason)
          parent.addEventListener('abort', this.onParentAbort, { once: true })
        }
      }
    }
    return this.controller.signal
  }

  /** Drops what a settled call no longer needs: the parent's listener and the settle functions. */
  release(): void {
    if (this.onParentAbort !== undefined) {
      this.parent?.removeEventListener('abort', this.onParentAbort)
      this.onParentAbort = undefined
    }
    this.resolve = undefined
    this.reject = undefined
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
  // calls waiting for their deadline, oldest first (one duration: deadlines in call order); a
  // call leaves the list when it settles, so finished calls are never retained
  private first: Call | undefined = undefined
  private last: Call | undefined = undefined
  private inList = 0
  private timer: unknown = undefined
  private timerRefed = false
  private counts = { calls: 0, timeouts: 0 }

  constructor(duration: Duration, options: TimeoutOptions = {}) {
    assertKnownKeys(options, KNOWN, 'timeout options')
    this.ms = toTimerMs(duration, 'timeout duration')
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
    if (tracingChannels.execute.hasSubscribers) return traceExecute(this, () => this.run(fn, signal))
    return this.run(fn, signal)
  }

  private run<T>(fn: Work<T>, signal: AbortSignal | undefined): Promise<T> {
    this.counts.calls++
    const call = new Call(signal)
    let r: T | Promise<T>
    try {
      r = fn(call)
    } catch (err) {
      call.done = true
      call.release()
      return Promise.reject(err)
    }
    if (!(r instanceof Promise)) {
      call.done = true
      call.release()
      return Promise.resolve(r)
    }
    return new Promise<T>((resolve, reject) => {
      call.resolve = resolve as (v: unknown) => void
      call.reject = reject
      call.deadline = this.clock.now() + this.ms
      this.push(call)
      r.then(
        (v) => {
          if (call.done) return
          this.settle(call)
          // cooperative: the function finished after the abort; its value stands
          resolve(v)
        },
        (e: unknown) => {
          if (call.done) return
          this.settle(call)
          reject(call.timedOut ? new TimeoutError(this.message()) : e)
        },
      )
    })
  }

  private push(call: Call): void {
    const last = this.last
    if (last === undefined) this.first = call
    else {
      last.next = call
      call.prev = last
    }
    this.last = call
    this.inList++
    if (this.timer === undefined) this.arm()
    else if (!this.timerRefed) this.refTimer(true)
  }

  private unlink(call: Call): void {
    const { prev, next } = call
    if (prev === undefined) this.first = next
    else prev.next = next
    if (next === undefined) this.last = prev
    else next.prev = prev
    call.prev = undefined
    call.next = undefined
    this.inList--
    // nobody waits on the armed timer any more: it must not hold the process open until it fires
    if (this.inList === 0 && this.timerRefed) this.refTimer(false)
  }

  private settle(call: Call): void {
    call.done = true
    // a cooperative call that timed out already left the list
    if (!call.timedOut) this.unlink(call)
    call.release()
  }

  /**
   * Refs or unrefs the armed timer. The timer is kept armed when the list empties (re-arming per
   * call would cost a timer per call), but only a timer that a caller waits on may keep the
   * process alive. Clocks whose handles cannot be unref'd (the FakeClock) are left alone.
   */
  private refTimer(on: boolean): void {
    const t = this.timer as { ref?: () => void; unref?: () => void } | undefined
    this.timerRefed = on
    if (on) t?.ref?.()
    else t?.unref?.()
  }

  private message(): string {
    return `"${this.name}" gave up after ${this.ms}ms; raise the timeout or make the call faster`
  }

  private arm(): void {
    const head = this.first
    if (head === undefined) {
      this.timer = undefined
      this.timerRefed = false
      return
    }
    const wait = Math.max(0, head.deadline - this.clock.now())
    this.timer = this.clock.setTimeout(() => this.fire(), wait)
    this.timerRefed = true
  }

  private fire(): void {
    this.timer = undefined
    this.timerRefed = false
    const now = this.clock.now()
    for (let call = this.first; call !== undefined && call.deadline <= now; call = this.first) {
      this.unlink(call)
      call.timedOut = true
      this.counts.timeouts++
      if (this.events.has('timeout')) this.events.emit('timeout', { ms: this.ms })
      const err = new TimeoutError(this.message())
      call.controller?.abort(err)
      if (this.aggressive) {
        const reject = call.reject
        call.done = true
        call.release()
        reject?.(err)
      }
    }
    this.arm()
  }

  /** Subscribes to 'timeout'. */
  on<K extends keyof TimeoutEvents>(event: K, listener: (payload: TimeoutEvents[K]) => void) {
    return this.events.on(event, listener)
  }

  /** Counters and calls in flight. */
  stats() {
    return { ...this.counts, pending: this.inList, ms: this.ms }
  }
}

/** Creates a timeout policy of `duration`. */
export function timeout(duration: Duration, options: TimeoutOptions = {}): TimeoutPolicy {
  return new TimeoutPolicy(duration, options)
}
