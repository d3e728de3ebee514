/**
 * Records what a `diagnostics_channel` TracingChannel publishes: each event's name and a copy of
 * its context at that moment (contexts are mutated as an operation settles).
 */
import type { TracingChannel } from 'node:diagnostics_channel'

/** One published event. */
export interface Recorded<C> {
  readonly event: 'start' | 'end' | 'asyncStart' | 'asyncEnd' | 'error'
  readonly context: C & { result?: unknown; error?: unknown }
  /** The context object itself (to check start and end carry the same one). */
  readonly ref: object
}

/** Subscribes to `channel` until `stop()`; `events` holds what was published. */
export function record<C extends object>(channel: TracingChannel<unknown, C>) {
  const events: Array<Recorded<C>> = []
  const on =
    (event: Recorded<C>['event']) =>
    (message: unknown): void => {
      events.push({ event, context: { ...(message as C) }, ref: message as object })
    }
  const handlers = {
    start: on('start'),
    end: on('end'),
    asyncStart: on('asyncStart'),
    asyncEnd: on('asyncEnd'),
    error: on('error'),
  }
  channel.subscribe(handlers)
  return {
    events,
    /** The contexts of the settled (asyncEnd) events, in order. */
    settled(): Array<Recorded<C>['context']> {
      return events.filter((e) => e.event === 'asyncEnd').map((e) => e.context)
    },
    /** The contexts of the error events, in order. */
    errors(): Array<Recorded<C>['context']> {
      return events.filter((e) => e.event === 'error').map((e) => e.context)
    },
    clear(): void {
      events.length = 0
    },
    stop(): void {
      channel.unsubscribe(handlers)
    },
  }
}
