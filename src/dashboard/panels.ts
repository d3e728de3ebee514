/**
 * The extension point: a panel is a named set of series the dashboard samples at each tick and
 * the page draws as one more chart. The database, bus, WebSocket and load-test parts plug their
 * figures in here; `metricPanel()` makes a panel out of any metric already in the registry.
 */
import type { Registry } from 'prom-client'
import { assertKnownKeys } from '../options.js'

/** What a panel's `sample()` is handed. */
export interface PanelContext {
  /** The monitor's registry. */
  registry: Registry
  /** Seconds since the previous tick. */
  dt: number
}

/** An extra chart on the page, fed by `sample()` at every tick. */
export interface DashboardPanel {
  /** Unique id (letters, digits, '_' and '-'). */
  id: string
  /** Title shown above the chart. */
  title: string
  /** Unit shown on the axis ('ms', '/s', '%', 'bytes', ''). @default '' */
  unit?: string
  /** Series name -> value for this tick; undefined (or a throw) leaves a gap. */
  sample(ctx: PanelContext): Record<string, number> | undefined | Promise<Record<string, number> | undefined>
}

const PANEL_KEYS = ['id', 'title', 'unit', 'sample']

/** Checks a panel; returns it frozen. */
export function checkPanel(panel: DashboardPanel): Readonly<DashboardPanel> {
  if (panel === null || typeof panel !== 'object') throw new TypeError('a dashboard panel must be an object')
  assertKnownKeys(panel, PANEL_KEYS, 'dashboard panel')
  if (typeof panel.id !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(panel.id)) {
    throw new TypeError(
      `panel.id must be 1-64 letters, digits, '_' or '-'; received ${JSON.stringify(panel.id)}`,
    )
  }
  if (typeof panel.title !== 'string' || panel.title === '') {
    throw new TypeError(`panel.title must be a non-empty string (panel ${panel.id})`)
  }
  if (panel.unit !== undefined && typeof panel.unit !== 'string') {
    throw new TypeError(`panel.unit must be a string (panel ${panel.id})`)
  }
  if (typeof panel.sample !== 'function')
    throw new TypeError(`panel.sample must be a function (panel ${panel.id})`)
  return Object.freeze({ ...panel })
}

/** Options of `metricPanel()`. */
export interface MetricPanelOptions {
  /** Panel id. */
  id: string
  /** Panel title. */
  title: string
  /** Axis unit. @default '/s' for rate, '' for value */
  unit?: string
  /** Full metric name in the registry ('hotpath_bus_queue_depth'). */
  metric: string
  /** 'rate': per-second increase of a counter; 'value': the gauge's value. @default 'value' */
  mode?: 'rate' | 'value'
  /** One series per value of this label; without it, one series named after the metric (all summed). */
  by?: string
  /** Multiplies every value (1000 to show seconds as ms). @default 1 */
  scale?: number
}

/** A panel that shows a registry metric (a gauge's value or a counter's rate), split by a label. */
export function metricPanel(options: MetricPanelOptions): DashboardPanel {
  assertKnownKeys(options, ['id', 'title', 'unit', 'metric', 'mode', 'by', 'scale'], 'metricPanel options')
  const mode = options.mode ?? 'value'
  if (mode !== 'rate' && mode !== 'value') {
    throw new TypeError(`metricPanel mode must be 'rate' or 'value'; received ${String(mode)}`)
  }
  if (typeof options.metric !== 'string' || options.metric === '') {
    throw new TypeError('metricPanel metric must be a metric name')
  }
  const scale = options.scale ?? 1
  if (typeof scale !== 'number' || !Number.isFinite(scale))
    throw new TypeError('metricPanel scale must be a number')
  const previous = new Map<string, number>()
  const by = options.by
  return {
    id: options.id,
    title: options.title,
    unit: options.unit ?? (mode === 'rate' ? '/s' : ''),
    async sample({ registry, dt }) {
      const metric = registry.getSingleMetric(options.metric)
      if (metric === undefined) return undefined
      const { values } = (await metric.get()) as {
        values: Array<{ value: number; labels: Record<string, string | number>; metricName?: string }>
      }
      const out: Record<string, number> = {}
      for (const v of values) {
        // histograms and summaries: their _count is the rate of events, their _sum the rest
        if (v.metricName !== undefined && v.metricName !== options.metric && !v.metricName.endsWith('_count'))
          continue
        const series = by === undefined ? options.metric : String(v.labels[by] ?? '')
        let value = v.value
        if (mode === 'rate') {
          const key = JSON.stringify(v.labels)
          const before = previous.get(key)
          previous.set(key, v.value)
          if (before === undefined) continue
          value = (v.value >= before ? v.value - before : v.value) / (dt > 0 ? dt : 1)
        }
        out[series] = (out[series] ?? 0) + value * scale
      }
      return out
    },
  }
}

/** A table on the page (slow queries, dead letters...), refreshed from `rows()` at every tick. */
export interface DashboardTable {
  /** Unique id among tables (letters, digits, '_' and '-'). */
  id: string
  /** Title shown above the table. */
  title: string
  /** Column names, in order; a row's keys are looked up by them. */
  columns: string[]
  /** The rows now (the first 50 are shown); undefined (or a throw) keeps the previous ones. */
  rows(
    ctx: PanelContext,
  ):
    | Array<Record<string, string | number>>
    | undefined
    | Promise<Array<Record<string, string | number>> | undefined>
}

/** Rows kept per table. */
export const MAX_ROWS = 50

/** Checks a table; returns it frozen. */
export function checkTable(table: DashboardTable): Readonly<DashboardTable> {
  if (table === null || typeof table !== 'object') throw new TypeError('a dashboard table must be an object')
  assertKnownKeys(table, ['id', 'title', 'columns', 'rows'], 'dashboard table')
  if (typeof table.id !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(table.id)) {
    throw new TypeError(
      `table.id must be 1-64 letters, digits, '_' or '-'; received ${JSON.stringify(table.id)}`,
    )
  }
  if (typeof table.title !== 'string' || table.title === '') {
    throw new TypeError(`table.title must be a non-empty string (table ${table.id})`)
  }
  if (
    !Array.isArray(table.columns) ||
    table.columns.length === 0 ||
    table.columns.some((c) => typeof c !== 'string')
  ) {
    throw new TypeError(`table.columns must be a non-empty array of strings (table ${table.id})`)
  }
  if (typeof table.rows !== 'function')
    throw new TypeError(`table.rows must be a function (table ${table.id})`)
  return Object.freeze({ ...table, columns: [...table.columns] })
}
