/**
 * Adapters turn attached components into metrics. They subscribe to a component's events
 * (counted as they happen) and read its `stats()` at each collection (gauges). The cache has a
 * dedicated adapter; resilience policies share a generic one that exports every numeric stat
 * and counts their events. `monitor.registerAdapter(kind, fn)` adds more.
 */
import type { Disposer } from '../events.js'
import type { Instrumentable } from '../types.js'

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
  ): { set(labels: Record<string, string>, v: number): void }
  histogram(
    name: string,
    help: string,
    labelNames: string[],
    buckets?: number[],
  ): { observe(labels: Record<string, string>, v: number): void }
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
  const requests = ctx.counter(`${p}cache_requests_total`, 'Cache lookups by tier and result', [
    'cache',
    'tier',
    'result',
  ])
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
    source.on('hit', (e: { tier: string }) => requests.inc({ cache: name, tier: e.tier, result: 'hit' })),
    source.on('miss', (e: { tier: string }) => requests.inc({ cache: name, tier: e.tier, result: 'miss' })),
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

/** The generic adapter: every numeric stat as a gauge, known events as counters, breaker state. */
export const genericAdapter: Adapter = (source, ctx) => {
  const p = ctx.prefix
  const labels = { kind: source.kind, name: source.name }
  const stat = ctx.gauge(`${p}component_stat`, 'Numeric stats of attached components', [
    'kind',
    'name',
    'field',
  ])
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
  const flatten = (o: Record<string, unknown>, path: string) => {
    for (const [k, v] of Object.entries(o)) {
      const field = path === '' ? k : `${path}_${k}`
      const n = num(v)
      if (n !== undefined) stat.set({ ...labels, field }, n)
      else if (v !== null && typeof v === 'object' && !Array.isArray(v) && path.split('_').length < 3)
        flatten(obj(v), field)
    }
  }
  return {
    collect() {
      const s = obj(source.stats())
      flatten(s, '')
      if (source.kind === 'circuit-breaker' && typeof s.state === 'string') {
        state.set({ name: source.name }, BREAKER_STATES[s.state] ?? 0)
      }
    },
    dispose() {
      for (const off of offs) off()
    },
  }
}
