/**
 * Running what a bus received: the handlers registered by message type, and the bounded pool of
 * workers that take messages from the scheduler (weighted classes, tenants, ageing) and run them
 * (execution.ts). Workers start in a microtask and each pulls the next message itself, so a busy
 * bus pays no timer or closure per message. `drain()` waits until the pool is idle and the batch
 * handlers are flushed.
 */
import type { Admission } from './admission.js'
import type { Execution, HandlerEntry } from './execution.js'
import type { ResolvedBusOptions } from './options.js'
import type { Scheduler } from './scheduler.js'

/** The handlers and the worker pool of one bus. */
export class Workers {
  /** Workers running now. */
  running = 0
  private readonly handlers = new Map<string, HandlerEntry>()
  private readonly idleWaiters: Array<() => void> = []
  private startScheduled = false

  constructor(
    private readonly o: ResolvedBusOptions,
    private readonly sched: Scheduler,
    private readonly exec: Execution,
    private readonly admission: Admission,
  ) {}

  /** Adds the handler of `entry.type` (one per type); returns its disposer. */
  register(entry: HandlerEntry): () => void {
    if (this.handlers.has(entry.type)) {
      throw new TypeError(
        `a handler for "${entry.type}" is already registered on bus "${this.o.name}"; dispose it first`,
      )
    }
    this.handlers.set(entry.type, entry)
    this.exec.handlers = this.handlers
    this.dispatch()
    return () => {
      if (this.handlers.get(entry.type) === entry) this.handlers.delete(entry.type)
      entry.o.breaker?.dispose()
      void entry.batch?.close()
    }
  }

  /** Starts workers for queued messages (in a microtask), up to `concurrency`. */
  dispatch(): void {
    // workers start in a microtask: a burst of sends in one turn is queued (and ordered by
    // class) first, and a sender never runs handlers inside its own call stack
    if (this.startScheduled || this.running >= this.o.concurrency) return
    this.startScheduled = true
    queueMicrotask(this.startWorkers)
  }

  private readonly startWorkers = (): void => {
    this.startScheduled = false
    while (this.running < this.o.concurrency && this.sched.size > 0 && this.handlers.size > 0) {
      this.running++
      void this.work()
    }
  }

  private async work(): Promise<void> {
    const clock = this.o.clock
    let sync = 0
    for (;;) {
      if (this.handlers.size === 0) break
      const env = this.sched.next(clock.now())
      if (env === undefined) break
      this.admission.release()
      const r = this.exec.run(env)
      if (r !== undefined) {
        sync = 0
        await r
      } else if (++sync === 1024) {
        // synchronous handlers: let I/O and timers in now and then
        sync = 0
        await new Promise<void>((resolve) => setImmediate(resolve))
      }
    }
    this.running--
    if (this.running === 0 && this.sched.size === 0) for (const w of this.idleWaiters.splice(0)) w()
  }

  /** Resolves when nothing is queued or running (batches flushed). */
  async drain(): Promise<void> {
    for (;;) {
      for (const h of this.handlers.values()) h.batch?.flush()
      if (this.sched.size > 0 || this.running > 0) await new Promise<void>((r) => this.idleWaiters.push(r))
      let batching = false
      for (const h of this.handlers.values())
        if (h.batch !== undefined && h.batch.pending > 0) batching = true
      if (!batching && this.sched.size === 0 && this.running === 0) return
      if (batching) for (const h of this.handlers.values()) if (h.batch !== undefined) await h.batch.drain()
    }
  }

  /** Disposes every handler (breakers, batch processors): workers stop at their next message. */
  async close(): Promise<void> {
    for (const h of this.handlers.values()) {
      h.o.breaker?.dispose()
      await h.batch?.close()
    }
    this.handlers.clear()
  }
}
