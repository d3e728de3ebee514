/**
 * The bounded in-memory queue's door: a message sent over the memory transport is admitted to
 * the scheduler while there is room, and otherwise handled by the send's backpressure policy:
 * 'reject' (BusFullError), 'shed' (the lowest queued class below it is dropped to the dead
 * letters) or 'block' (the send waits, in arrival order, until a worker takes a message).
 */
import { Deque } from './deque.js'
import { BusFullError } from './errors.js'
import type { Scheduler } from './scheduler.js'
import type { BusCounters } from './stats.js'
import type { Backpressure, DeadLetterReason, Envelope } from './types.js'

export class Admission {
  /** Sends waiting for room (backpressure 'block'), in arrival order. */
  private readonly blocked = new Deque<{ env: Envelope; resolve: () => void }>()

  constructor(
    private readonly name: string,
    private readonly maxQueued: number,
    private readonly sched: Scheduler,
    private readonly c: BusCounters,
    private readonly bury: (env: Envelope, reason: DeadLetterReason, err: unknown) => void,
    private readonly dispatch: () => void,
  ) {}

  /** Queues `env`, or applies the backpressure policy when the queue is full. */
  admit(env: Envelope, bp: Backpressure): Promise<void> | undefined {
    if (this.sched.size < this.maxQueued) {
      this.sched.push(env)
      this.c.received++
      this.dispatch()
      return undefined
    }
    if (bp === 'reject') throw new BusFullError(this.name, this.maxQueued)
    if (bp === 'shed') {
      const dropped = this.sched.shedBelow(env.p)
      if (dropped === undefined) throw new BusFullError(this.name, this.maxQueued)
      this.c.shed++
      this.bury(dropped, 'shed', new BusFullError(this.name, this.maxQueued))
      this.sched.push(env)
      this.c.received++
      return undefined
    }
    this.c.blocked++
    return new Promise<void>((resolve) => this.blocked.push({ env, resolve }))
  }

  /** A worker took a message: the oldest blocked send takes its place. */
  release(): void {
    if (this.blocked.size === 0) return
    const b = this.blocked.shift()
    if (b === undefined) return
    this.sched.push(b.env)
    this.c.received++
    b.resolve()
  }

  /** Closing: every blocked send goes back to the transport (redelivered elsewhere) and resolves. */
  returnAll(retry: (env: Envelope) => void): void {
    for (let b = this.blocked.shift(); b !== undefined; b = this.blocked.shift()) {
      retry(b.env)
      b.resolve()
    }
  }
}
