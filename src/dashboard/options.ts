/**
 * Options of `createDashboard()` and their resolution: defaults, validation that names the option
 * and the value received, unknown keys refused with the closest name, frozen.
 */
import os from 'node:os'
import { Monitor } from '../metrics/index.js'
import { assertKnownKeys } from '../options.js'
import { type Clock, type Duration, systemClock, toMs, toTimerMs } from '../time.js'
import { checkPanel, checkTable, type DashboardPanel, type DashboardTable } from './panels.js'
import { type ResolvedShare, resolveShareOptions, type ShareOptions } from './share-options.js'

/** Options of `createDashboard()`. */
export interface DashboardOptions {
  /** The monitor whose figures are shown (required). */
  monitor: Monitor
  /** How often a frame is built and pushed to the pages. @default '1s' */
  interval?: Duration | undefined
  /** How much history is kept in memory (a ring of window / interval frames). @default '15m' */
  window?: Duration | undefined
  /** Routes shown per frame (the busiest of the tick). @default 20 */
  maxRoutes?: number | undefined
  /** How often recommendations are recomputed and pushed. @default '10s' (or `interval` if longer) */
  recommendationsInterval?: Duration | undefined
  /** This instance's id in the multi-instance view. @default `${hostname}:${pid}` */
  instance?: string | undefined
  /** Extra panels (database, bus, WebSocket figures...). More can be added with `addPanel()`. @default [] */
  panels?: DashboardPanel[] | undefined
  /** Tables (slow queries, dead letters...). More can be added with `addTable()`. @default [] */
  tables?: DashboardTable[] | undefined
  /** Pages streaming at once; more get 503. @default 50 */
  maxClients?: number | undefined
  /** Several instances, one view: publish and read frames over Redis. @default off */
  share?: ShareOptions | undefined
  /** @default systemClock */
  clock?: Clock | undefined
}

const KNOWN: readonly (keyof DashboardOptions)[] = [
  'monitor',
  'interval',
  'window',
  'maxRoutes',
  'recommendationsInterval',
  'instance',
  'panels',
  'tables',
  'maxClients',
  'share',
  'clock',
]

/** Resolved options. */
export interface ResolvedDashboardOptions {
  readonly monitor: Monitor
  readonly intervalMs: number
  readonly windowMs: number
  readonly capacity: number
  readonly maxRoutes: number
  readonly recommendationsMs: number
  readonly instance: string
  readonly panels: readonly Readonly<DashboardPanel>[]
  readonly tables: readonly Readonly<DashboardTable>[]
  readonly maxClients: number
  readonly share: ResolvedShare | undefined
  readonly clock: Clock
}

/** Hard cap on frames kept, whatever window and interval say (about 1.5 MB at 10 routes). */
export const MAX_FRAMES = 86_400

/** Validates and freezes the options of `createDashboard()`. */
export function resolveDashboardOptions(options: DashboardOptions): ResolvedDashboardOptions {
  if (options === null || typeof options !== 'object') {
    throw new TypeError('createDashboard options must be an object with at least { monitor }')
  }
  assertKnownKeys(options, KNOWN, 'createDashboard options')
  if (!(options.monitor instanceof Monitor)) {
    throw new TypeError('createDashboard needs monitor: a monitor from createMonitor() (hotpath/metrics)')
  }
  const intervalMs = toTimerMs(options.interval ?? '1s', 'interval')
  if (intervalMs < 100) throw new RangeError(`interval must be at least 100ms; received ${intervalMs}ms`)
  const windowMs = toMs(options.window ?? '15m', 'window')
  if (windowMs < intervalMs) {
    throw new RangeError(`window must be at least one interval (${intervalMs}ms); received ${windowMs}ms`)
  }
  const capacity = Math.ceil(windowMs / intervalMs)
  if (capacity > MAX_FRAMES) {
    throw new RangeError(
      `window / interval is ${capacity} frames; the most kept is ${MAX_FRAMES}: shorten window or lengthen interval`,
    )
  }
  const maxRoutes = options.maxRoutes ?? 20
  if (!Number.isInteger(maxRoutes) || maxRoutes < 1 || maxRoutes > 1000) {
    throw new RangeError(`maxRoutes must be an integer from 1 to 1000; received ${String(maxRoutes)}`)
  }
  const recommendationsMs =
    options.recommendationsInterval === undefined
      ? Math.max(10_000, intervalMs)
      : toTimerMs(options.recommendationsInterval, 'recommendationsInterval')
  if (recommendationsMs < intervalMs) {
    throw new RangeError(`recommendationsInterval must be at least interval (${intervalMs}ms)`)
  }
  const instance = options.instance ?? `${os.hostname()}:${process.pid}`
  if (typeof instance !== 'string' || !/^[\w.:@-]{1,100}$/.test(instance) || instance === '*') {
    throw new TypeError(
      `instance must be 1-100 letters, digits or . : @ _ -; received ${JSON.stringify(options.instance)}`,
    )
  }
  if (options.panels !== undefined && !Array.isArray(options.panels)) {
    throw new TypeError('panels must be an array of panels ({ id, title, sample })')
  }
  const panels = (options.panels ?? []).map(checkPanel)
  const ids = new Set<string>()
  for (const p of panels) {
    if (ids.has(p.id)) throw new TypeError(`two panels have the id "${p.id}"; ids must be unique`)
    ids.add(p.id)
  }
  if (options.tables !== undefined && !Array.isArray(options.tables)) {
    throw new TypeError('tables must be an array of tables ({ id, title, columns, rows })')
  }
  const tables = (options.tables ?? []).map(checkTable)
  const tableIds = new Set<string>()
  for (const t of tables) {
    if (tableIds.has(t.id)) throw new TypeError(`two tables have the id "${t.id}"; ids must be unique`)
    tableIds.add(t.id)
  }
  const maxClients = options.maxClients ?? 50
  if (!Number.isInteger(maxClients) || maxClients < 1) {
    throw new RangeError(`maxClients must be an integer >= 1; received ${String(maxClients)}`)
  }
  const clock = options.clock ?? systemClock
  if (
    typeof clock?.now !== 'function' ||
    typeof clock.setBackgroundTimeout !== 'function' ||
    typeof clock.clearTimeout !== 'function'
  ) {
    throw new TypeError('clock must implement now(), setBackgroundTimeout() and clearTimeout()')
  }
  return Object.freeze({
    monitor: options.monitor,
    intervalMs,
    windowMs,
    capacity,
    maxRoutes,
    recommendationsMs,
    instance,
    panels: Object.freeze(panels),
    tables: Object.freeze(tables),
    maxClients,
    share: options.share === undefined ? undefined : resolveShareOptions(options.share, intervalMs),
    clock,
  })
}
