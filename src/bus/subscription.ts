/**
 * A bus's subscription on its transport, kept up: a subscribe that fails (an error reply such as
 * NOPERM, OOM or READONLY during a failover) is retried, 100 ms doubling up to 5 s, until it
 * succeeds or the bus closes (regression: a subscribe that got an error reply left the bus never
 * consuming and never trying again, with nothing said). Each failure is a `subscribeError` event
 * and counts in `subscribeFailures`.
 */

import { isHotpathError } from '../errors.js'
import type { Events } from '../events.js'
import type { Clock, TimerHandle } from '../time.js'
import type { BusCounters, BusEvents } from './stats.js'
import type { Transport, TransportSink } from './types.js'

/** Where the subscription lives: the bus's transport, names, clock, counters and events. */
export interface SubscriptionDeps {
  readonly transport: Transport
  readonly name: string
  readonly inbox: string
  readonly sink: TransportSink
  readonly clock: Clock
  readonly counters: BusCounters
  readonly events: Events<BusEvents>
}

/** The subscription of one bus. */
export class Subscription {
  /** The latest attempt (whenReady answers with it). */
  private attempt: Promise<void>
  private retry: TimerHandle | undefined
  private stopped = false

  constructor(private readonly d: SubscriptionDeps) {
    this.attempt = this.subscribe()
  }

  /** The latest attempt: resolves once the transport consumes, rejects with the latest failure. */
  get ready(): Promise<void> {
    return this.attempt
  }

  /** No more attempts (the bus is closing); `consuming` turns false. */
  stop(): void {
    this.stopped = true
    if (this.retry !== undefined) this.d.clock.clearTimeout(this.retry)
    this.retry = undefined
    this.d.counters.consuming = false
  }

  private subscribe(): Promise<void> {
    const d = this.d
    const attempt = d.transport.subscribe(d.name, d.inbox, d.sink)
    attempt.then(
      () => {
        d.counters.consuming = !this.stopped
      },
      (err: unknown) => {
        if (this.stopped || isHotpathError(err, 'E_CLOSED')) return
        const n = ++d.counters.subscribeFailures
        const retryInMs = Math.min(5000, 100 * 2 ** Math.min(n - 1, 6))
        this.retry = d.clock.setBackgroundTimeout(() => {
          this.retry = undefined
          if (!this.stopped) this.attempt = this.subscribe()
        }, retryInMs)
        if (d.events.has('subscribeError'))
          d.events.emit('subscribeError', { error: err, attempt: n, retryInMs })
      },
    )
    return attempt
  }
}
