/**
 * Adapters turn attached components into metrics. They subscribe to a component's events
 * (counted as they happen) and read its `stats()` at each collection (gauges). The cache has a
 * dedicated adapter; resilience policies share a generic one that exports every numeric stat
 * under its own name and type (cumulative counts as `hotpath_<kind>_<field>_total` counters,
 * levels as gauges, milliseconds as seconds) and counts their events. A detached component's
 * gauges are removed (a closed cache has no entries). `monitor.registerAdapter(kind, fn)` adds more.
 */
import type { Disposer } from '../events.js'
import type { Instrumentable } from '../types.js'
import type { LiveMetric, LiveType } from './live-metric.js'

/** What an adapter gets from the monitor. */
export interface AdapterContext {
  prefix: string
  counter(
    name: string,
    help: string,
    labelNames: string[],
  ): { inc(labels: Record<string, string>, n?: number): void }
  gauge(
    name: string,
    help: string,
    labelNames: string[],
  ): { set(labels: Record<string, string>, v: number): void; remove(labels: Record<string, string>): void }
  histogram(
    name: string,
    help: string,
    labelNames: string[],
    buckets?: number[],
  ): { observe(labels: Record<string, string>, v: number): void }
  /** A metric read at scrape time from figures the component keeps (for per-call hot paths). */
  live(name: string, help: string, type: LiveType): LiveMetric
}

/** An attached component's metrics: disposers of its subscriptions and a collect step. */
export interface Attachment {
  collect(): void
  dispose: Disposer
}

/** Makes an attachment for a source. */
export type Adapter = (source: Instrumentable, ctx: AdapterContext) => Attachment

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined)
const obj = (v: unknown): Record<string, unknown> =>
  v !== null && typeof v === 'object' ? (v as Record<string, unknown>) : {}
const BREAKER_STATES: Record<string, number> = { closed: 0, open: 1, 'half-open': 2, isolated: 3 }

/** The cache adapter (hotpath/cache events and stats). */
export const cacheAdapter: Adapter = (source, ctx) => {
  const p = ctx.prefix
  const name = source.name
  // read from stats() when the registry is read: the synchronous reads (getSync, which the db
  // layer's cached reads and the response cache answer hits with) emit no events, so counting
  // events missed their hits (regression: a db cache's L1 hit ratio read 0 while stats() said 0.4)
  const requests = ctx.live(`${p}cache_requests_total`, 'Cache lookups by tier and result', 'counter')
  const stale = ctx.counter(`${p}cache_stale_serves_total`, 'Stale values served, by reason', [
    'cache',
    'reason',
  ])
  const loads = ctx.histogram(`${p}cache_loader_duration_seconds`, 'Loader run time', [
    'cache',
    'result',
    'early',
  ])
  const l2Errors = ctx.counter(`${p}cache_l2_errors_total`, 'L2 operations that failed or timed out', [
    'cache',
    'op',
  ])
  const evictions = ctx.counter(`${p}cache_evictions_total`, 'L1 evictions by reason', ['cache', 'reason'])
  const entries = ctx.gauge(`${p}cache_entries`, 'Entries in L1', ['cache'])
  const bytes = ctx.gauge(`${p}cache_bytes`, 'Estimated bytes in L1', ['cache'])
  const maxEntries = ctx.gauge(`${p}cache_max_entries`, 'L1 capacity in entries', ['cache'])
  const breaker = ctx.gauge(`${p}cache_l2_breaker_state`, 'L2 breaker: 0 closed, 1 open, 2 half-open', [
    'cache',
  ])
  const offs = [
    requests.add((out) => {
      const s = obj(source.stats())
      for (const tier of ['l1', 'l2'] as const) {
        const t = obj(s[tier])
        if (t.enabled !== true) continue
        out.push({ value: num(t.hits) ?? 0, labels: { cache: name, tier, result: 'hit' } })
        out.push({ value: num(t.misses) ?? 0, labels: { cache: name, tier, result: 'miss' } })
      }
    }),
    source.on('stale', (e: { reason: string }) => stale.inc({ cache: name, reason: e.reason })),
    source.on('load', (e: { durationMs: number; ok: boolean; early: boolean }) =>
      loads.observe(
        { cache: name, result: e.ok ? 'ok' : 'error', early: String(e.early) },
        e.durationMs / 1000,
      ),
    ),
    source.on('l2-error', (e: { op: string }) => l2Errors.inc({ cache: name, op: e.op })),
    source.on('evict', (e: { reason: string }) => evictions.inc({ cache: name, reason: e.reason })),
  ]
  return {
    collect() {
      const s = obj(source.stats())
      const l1 = obj(s.l1)
      const l2 = obj(s.l2)
      entries.set({ cache: name }, num(l1.entries) ?? 0)
      bytes.set({ cache: name }, num(l1.bytes) ?? 0)
      maxEntries.set({ cache: name }, num(l1.maxEntries) ?? 0)
      breaker.set({ cache: name }, BREAKER_STATES[String(l2.breaker)] ?? 0)
    },
    dispose() {
      for (const off of offs) off()
      for (const g of [entries, bytes, maxEntries, breaker]) g.remove({ cache: name })
    },
  }
}

/** Events counted per kind by the generic adapter. */
const EVENTS: Record<string, string[]> = {
  'circuit-breaker': ['stateChange', 'rejected', 'failure'],
  retry: ['retry', 'giveUp'],
  timeout: ['timeout'],
  bulkhead: ['rejected'],
  'rate-limiter': ['rejected', 'redisError'],
  'adaptive-limit': ['rejected', 'limit'],
  pool: ['create', 'destroy', 'error'],
  hedge: ['hedge'],
  fallback: ['fallback'],
}

/**
 * Stats that are levels (gauges); every other top-level number is a cumulative count (a
 * counter). Nested objects (a retry budget's window, in-flight by priority) are levels.
 */
const GAUGE_FIELDS = new Set([
  'size',
  'inUse',
  'idle',
  'waiting',
  'pending',
  'min',
  'max',
  'limit',
  'inflight',
  'running',
  'queued',
  'queueLimit',
  'keys',
  'windowMs',
  'ms',
  'delay',
  'avgRttMs',
  'acquireMsAvg',
  'acquireMsMax',
  'consecutiveFailures',
  'windowCalls',
  'windowFailures',
])
// fields in milliseconds without an "Ms" in their name
const MS_FIELDS = new Set(['ms', 'delay'])

const snake = (s: string) =>
  s
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/[^a-zA-Z0-9_]/g, '_')
    .toLowerCase()

/** Metric name, help and scale of one stat field (`path` is its camelCase path). */
function describeStat(
  prefix: string,
  kind: string,
  path: string[],
): { name: string; counter: boolean; scale: number } {
  const field = path[path.length - 1] as string
  const counter = path.length === 1 && !GAUGE_FIELDS.has(field)
  const ms = MS_FIELDS.has(field) || /Ms(?=[A-Z]|$)/.test(field)
  const base = path.map((p) => snake(p.replace(/Ms(?=[A-Z]|$)/, '')) || 'value').join('_')
  const name = `${prefix}${snake(kind)}_${base}${ms ? '_seconds' : ''}${counter ? '_total' : ''}`
  return { name, counter, scale: ms ? 1 / 1000 : 1 }
}

/**
 * The generic adapter: each numeric stat as its own metric labelled by component name —
 * counters for cumulative counts (fed by the increase since the last collection), gauges for
 * levels — known events as counters, breaker state.
 */
export const genericAdapter: Adapter = (source, ctx) => {
  const p = ctx.prefix
  const labels = { kind: source.kind, name: source.name }
  const own = { name: source.name }
  const events = ctx.counter(`${p}component_events_total`, 'Events of attached components', [
    'kind',
    'name',
    'event',
  ])
  const state = ctx.gauge(`${p}circuit_state`, 'Circuit state: 0 closed, 1 open, 2 half-open, 3 isolated', [
    'name',
  ])
  const offs: Disposer[] = []
  for (const event of EVENTS[source.kind] ?? []) {
    try {
      offs.push(source.on(event, () => events.inc({ ...labels, event })))
    } catch {
      // the component does not have this event
    }
  }
  interface Series {
    counter?: { inc(labels: Record<string, string>, n?: number): void }
    gauge?: {
      set(labels: Record<string, string>, v: number): void
      remove(labels: Record<string, string>): void
    }
    scale: number
    last: number
  }
  const series = new Map<string, Series>()
  const record = (path: string[], v: number) => {
    const key = path.join('.')
    let s = series.get(key)
    if (s === undefined) {
      const d = describeStat(p, source.kind, path)
      const help = `${source.kind} ${path.join('.')}${d.scale === 1 ? '' : ' (seconds)'}`
      s = d.counter
        ? { counter: ctx.counter(d.name, help, ['name']), scale: d.scale, last: 0 }
        : { gauge: ctx.gauge(d.name, help, ['name']), scale: d.scale, last: 0 }
      series.set(key, s)
    }
    if (s.counter !== undefined) {
      // a count that went down was reset: all of it is new
      const inc = v >= s.last ? v - s.last : v
      s.last = v
      if (inc > 0) s.counter.inc(own, inc * s.scale)
    } else s.gauge?.set(own, v * s.scale)
  }
  const byKey = new Map<string, { set(labels: Record<string, string>, v: number): void }>()
  // a map of levels keyed by data (inflight by priority class): one gauge, the key as a label
  const recordMap = (field: string, m: Record<string, unknown>) => {
    const label = snake(field.slice(2))
    let g = byKey.get(field)
    if (g === undefined) {
      g = ctx.gauge(`${p}${snake(source.kind)}_${snake(field)}`, `${source.kind} ${field}`, ['name', label])
      byKey.set(field, g)
    }
    for (const [k, v] of Object.entries(m)) {
      const n = num(v)
      if (n !== undefined) g.set({ name: source.name, [label]: k }, n)
    }
  }
  const walk = (o: Record<string, unknown>, path: string[]) => {
    for (const [k, v] of Object.entries(o)) {
      const n = num(v)
      if (n !== undefined) record([...path, k], n)
      else if (path.length === 0 && /^by[A-Z]/.test(k) && v !== null && typeof v === 'object')
        recordMap(k, obj(v))
      else if (v !== null && typeof v === 'object' && !Array.isArray(v) && path.length < 2)
        walk(obj(v), [...path, k])
    }
  }
  return {
    collect() {
      const s = obj(source.stats())
      walk(s, [])
      if (source.kind === 'circuit-breaker' && typeof s.state === 'string') {
        state.set(own, BREAKER_STATES[s.state] ?? 0)
      }
    },
    dispose() {
      for (const off of offs) off()
      for (const s of series.values()) s.gauge?.remove(own)
      if (source.kind === 'circuit-breaker') state.remove(own)
    },
  }
}
