/**
 * Shared contracts between parts. A component that is handed a `monitor` calls
 * `monitor.attach(this)`; the monitor (hotpath/metrics) turns its events and stats into metrics.
 * The component keeps the disposer `attach()` returns and calls it when it closes (cache
 * `close()`, breaker `dispose()`, pool `drain()`), so a monitor never holds closed components.
 * Nothing here imports a part, so every part can depend on it.
 */
import type { Disposer } from './events.js'

/** Something a monitor can instrument: a cache, a circuit breaker, a rate limiter, a pool... */
export interface Instrumentable {
  /** What it is: 'cache', 'circuit-breaker', 'retry', 'timeout', 'bulkhead', 'rate-limiter', 'adaptive-limit', 'pool', ... */
  readonly kind: string
  /** The instance's name, used as a metric label. */
  readonly name: string
  /** Subscribes to one of its events; returns a disposer. */
  // biome-ignore lint/suspicious/noExplicitAny: each component has its own typed event map
  on(event: any, listener: (payload: any) => void): Disposer
  /** A plain snapshot of its counters and state. */
  stats(): object
}

/** The part of a monitor that components need: somewhere to attach themselves. */
export interface MonitorLike {
  /**
   * Starts exporting the component's events and stats; returns a disposer that stops it and
   * forgets the component (idempotent). Components call it when they close.
   */
  attach(source: Instrumentable): Disposer
}
