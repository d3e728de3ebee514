/**
 * hotpath: the performance layer for TypeScript services on Node.js.
 * This barrel stays tiny; each part lives behind its own subpath (`hotpath/cache`, ...).
 */
export * from './errors.js'
export { type Clock, type Duration, FakeClock, systemClock, toMs } from './time.js'

/** The package version. */
export const version = '0.1.0'
export { type Disposer, Events } from './events.js'
export type { Instrumentable, MonitorLike } from './types.js'
