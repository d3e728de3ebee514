/**
 * The bus's metrics adapter for a hotpath monitor: counters from the increase of each cumulative
 * stat since the last collection, and per-class gauges (depth, oldest age, longest and mean
 * wait) labelled `class`. Registered on the monitor when it accepts adapters; another
 * MonitorLike falls back to its own generic handling of `stats()`.
 */
import type { Adapter } from '../metrics/index.js'
import type { MonitorLike } from '../types.js'
import type { BusStats } from './stats.js'
import { PRIORITIES } from './types.js'

const COUNTERS = [
  ['sent', 'Messages handed to the transport'],
  ['received', 'Messages queued for handling'],
  ['handled', 'Messages handled successfully'],
  ['failures', 'Handler failures (each attempt)'],
  ['retries', 'Retries scheduled'],
  ['redeliveries', 'Deliveries after the first (retries and crash recovery)'],
  ['deadLettered', 'Messages moved to the dead letters'],
  ['replayed', 'Dead letters replayed'],
  ['dedupHits', 'Sends dropped by their producer dedup key'],
  ['processedHits', 'Deliveries skipped by the consumer processed-set'],
  ['deferred', 'Messages delayed by an open breaker or a rate limit'],
  ['shed', 'Messages shed by backpressure'],
  ['batches', 'Batch handler calls'],
  ['subscribeFailures', 'Failed subscribe attempts on the transport (each retried)'],
] as const

const snake = (s: string) => s.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)

const busAdapter: Adapter = (source, ctx) => {
  const p = `${ctx.prefix}bus_`
  const own = { bus: source.name }
  const counters = COUNTERS.map(([field, help]) => ({
    field,
    c: ctx.counter(`${p}${snake(field)}_total`, help, ['bus']),
    last: 0,
  }))
  const depth = ctx.gauge(`${p}queue_depth`, 'Messages queued, by priority class', ['bus', 'class'])
  const oldest = ctx.gauge(`${p}oldest_age_seconds`, 'Wait of the oldest queued message, by class', [
    'bus',
    'class',
  ])
  const maxWait = ctx.gauge(`${p}max_wait_seconds`, 'Longest wait before a handler started, by class', [
    'bus',
    'class',
  ])
  const meanWait = ctx.gauge(`${p}mean_wait_seconds`, 'Mean wait before a handler started, by class', [
    'bus',
    'class',
  ])
  const running = ctx.gauge(`${p}running`, 'Handlers running', ['bus'])
  const consuming = ctx.gauge(`${p}consuming`, '1 while the transport consumes for the bus', ['bus'])
  const handler = ctx.gauge(`${p}handler_mean_seconds`, 'Mean handler time', ['bus'])
  const batch = ctx.gauge(`${p}max_batch_size`, 'Largest batch handled', ['bus'])
  return {
    collect() {
      const s = source.stats() as BusStats
      for (const k of counters) {
        const v = s[k.field]
        const inc = v >= k.last ? v - k.last : v
        k.last = v
        if (inc > 0) k.c.inc(own, inc)
      }
      for (const cls of PRIORITIES) {
        const l = { bus: source.name, class: cls }
        depth.set(l, s.byClassDepth[cls])
        oldest.set(l, s.byClassOldestMs[cls] / 1000)
        maxWait.set(l, s.byClassMaxWaitMs[cls] / 1000)
        meanWait.set(l, s.byClassMeanWaitMs[cls] / 1000)
      }
      running.set(own, s.running)
      consuming.set(own, s.consuming ? 1 : 0)
      handler.set(own, s.handlerMeanMs / 1000)
      batch.set(own, s.maxBatchSize)
    },
    dispose() {
      for (const cls of PRIORITIES) {
        const l = { bus: source.name, class: cls }
        depth.remove(l)
        oldest.remove(l)
      }
      running.remove(own)
      consuming.remove(own)
    },
  }
}

/** Registers the bus adapter on a monitor that takes adapters (hotpath/metrics' Monitor). */
export function registerBusAdapter(monitor: MonitorLike): void {
  const m = monitor as MonitorLike & { registerAdapter?: (kind: string, a: Adapter) => void }
  if (typeof m.registerAdapter === 'function') m.registerAdapter('bus', busAdapter)
}
