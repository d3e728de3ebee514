/**
 * How loaded the process is, as one number from 0 (idle) to 1 (saturated), read from the
 * event-loop sampler of hotpath/metrics: the monitor's when one is handed in, else one private
 * sampler shared by every batcher in the process (a 10 ms background timer while any batcher is
 * open). Reading it is three field reads, so a batcher asks at every flush.
 *
 * Why these signals: coalescing to the end of the I/O turn costs no latency and already saves
 * most writes at high rates (research §1c: 82% at 5k msgs/s per connection); a wider window only
 * pays when the loop is the bottleneck, which the loop's delay and utilization say directly.
 */
import { createEventLoopSampler, type EventLoopSource } from '../metrics/index.js'

/** Delay (ms) under which the loop counts as unloaded, and at which it counts as saturated. */
export const DELAY_LOW_MS = 10
export const DELAY_HIGH_MS = 50
/** Event-loop utilization under which the loop counts as unloaded, and at which saturated. */
export const ELU_LOW = 0.8
export const ELU_HIGH = 0.97

let shared: EventLoopSource | undefined

/** The process-wide private sampler (created on first use). */
export function sharedEventLoop(): EventLoopSource {
  shared ??= createEventLoopSampler()
  return shared
}

const clamp01 = (x: number): number => Math.min(1, Math.max(0, x))

/**
 * Load in [0, 1] from the loop's utilization: the loop itself is busy, so fewer, larger writes
 * give it back time. This one opens the window.
 */
export function utilizationLoad(source: EventLoopSource): number {
  return clamp01((source.utilization - ELU_LOW) / (ELU_HIGH - ELU_LOW))
}

/**
 * Load in [0, 1] from the loop's delay. A delay with a quiet loop is mostly the machine (other
 * processes, a GC pause): it grows the batch size, which costs no latency, but does not open the
 * window, which would add latency for nothing the loop can win back.
 */
export function delayLoad(source: EventLoopSource): number {
  return clamp01((source.delayMs - DELAY_LOW_MS) / (DELAY_HIGH_MS - DELAY_LOW_MS))
}

/** Load in [0, 1] of one connection: how far its socket buffer is toward the high watermark. */
export function bufferLoad(bufferedAmount: number, highWatermark: number): number {
  return clamp01(bufferedAmount / highWatermark)
}

const holders = new WeakMap<EventLoopSource, { count: number; release: () => void }>()

/**
 * Keeps `source` sampling for one more batcher. One retain per source, counted here, rather than
 * a disposer per connection: an idle connection should cost as little as possible.
 */
export function holdSource(source: EventLoopSource): void {
  const h = holders.get(source)
  if (h !== undefined) h.count++
  else holders.set(source, { count: 1, release: source.retain() })
}

/** Gives back one `holdSource()`; the last one releases the source. */
export function letGoSource(source: EventLoopSource): void {
  const h = holders.get(source)
  if (h === undefined || --h.count > 0) return
  holders.delete(source)
  h.release()
}
