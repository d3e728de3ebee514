/**
 * hotpath: the performance layer for TypeScript services on Node.js.
 * This barrel stays tiny; each part lives behind its own subpath (`hotpath/cache`, ...).
 */
export * from './errors.js'
export { assertKnownKeys, closestName } from './options.js'
export { type Clock, type Duration, FakeClock, MAX_TIMER_MS, systemClock, toMs, toTimerMs } from './time.js'

/** The package version. */
export const version = '0.1.0'
export { type Disposer, Events } from './events.js'
export type { Instrumentable, MonitorLike } from './types.js'
