/**
 * What another instance sent, checked field by field and rebuilt: the share channel is a Redis
 * pub/sub channel anyone with access to that Redis can publish on, and what arrives goes into the
 * aggregate, the history, every page and the snapshot export. A message with a field of the wrong
 * type, a number that is not finite, an unknown severity, a key such as `__proto__` (JSON.parse
 * makes it an own key; added into a plain object it reached Object.prototype), or more entries
 * than any instance sends is dropped whole. Only the known fields are kept, so the size of what
 * is kept is bounded whatever the message's size.
 */
import type { InstanceRecommendations } from './feed.js'
import { MAX_ROWS } from './panels.js'
import type { AlertTransition, Frame, InstanceTable, RouteFigures } from './types.js'

/** Instance ids: as the `instance` option allows. */
export const INSTANCE_ID = /^[\w.:@-]{1,100}$/
const TABLE_ID = /^[A-Za-z0-9_-]{1,64}$/
const SEVERITIES = new Set(['info', 'warning', 'critical'])
/** Larger than any count, byte size or timestamp a frame holds; sums of many stay finite. */
const MAX_NUMBER = 1e15
const MAX_KEY = 200
const MAX_TEXT = 2000

type Obj = Record<string, unknown>

const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v)

function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) && Math.abs(v) <= MAX_NUMBER ? v : undefined
}

function text(v: unknown, max = MAX_TEXT): string | undefined {
  return typeof v === 'string' && v.length <= max ? v : undefined
}

/** A record of at most `max` keys, each value checked by `each`; undefined when any is wrong. */
function record<T>(
  v: unknown,
  max: number,
  each: (x: unknown) => T | undefined,
): Record<string, T> | undefined {
  if (!isObj(v)) return undefined
  const keys = Object.keys(v)
  if (keys.length > max) return undefined
  const out: Record<string, T> = {}
  for (const k of keys) {
    if (k.length > MAX_KEY || k === '__proto__') return undefined
    const x = each(v[k])
    if (x === undefined) return undefined
    out[k] = x
  }
  return out
}

/** Named numbers, all of them there and finite. */
function numbers<K extends string>(v: unknown, names: readonly K[]): Record<K, number> | undefined {
  if (!isObj(v)) return undefined
  const out = {} as Record<K, number>
  for (const k of names) {
    const n = num(v[k])
    if (n === undefined) return undefined
    out[k] = n
  }
  return out
}

function route(v: unknown): RouteFigures | undefined {
  if (!isObj(v)) return undefined
  const figures = numbers(v, ['n', 'p50', 'p95', 'p99'] as const)
  const status = record(v.status, 16, num)
  const b = v.b
  if (figures === undefined || status === undefined || !Array.isArray(b) || b.length > 256) return undefined
  const buckets: number[] = []
  for (const c of b) {
    const n = num(c)
    if (n === undefined) return undefined
    buckets.push(n)
  }
  return { ...figures, status, b: buckets }
}

/** A frame of `instance`, rebuilt from its known fields; undefined when anything is wrong. */
export function checkFrame(v: unknown, instance: string): Frame | undefined {
  if (!isObj(v) || v.instance !== instance || !isObj(v.http)) return undefined
  const head = numbers(v, ['seq', 't', 'dt'] as const)
  const all = route(v.http)
  const levels = numbers(v.http, ['total', 'inflight'] as const)
  const routes = record(v.http.routes, 1000, route)
  const loop = numbers(v.loop, ['maxMs', 'meanMs', 'elu'] as const)
  const mem = numbers(v.mem, ['heapUsed', 'heapTotal', 'rss'] as const)
  const gc = numbers(v.gc, ['n', 'ms'] as const)
  const cache = record(v.cache, 256, (c) => numbers(c, ['hits', 'misses'] as const))
  const refused = numbers(v, ['shed', 'rateLimited'] as const)
  const panels = record(v.panels, 64, (s) => record(s, 64, num))
  const ext = record(v.ext ?? {}, 16, (s) => record(s, 64, num))
  if (
    head === undefined ||
    head.dt <= 0 ||
    all === undefined ||
    levels === undefined ||
    routes === undefined ||
    loop === undefined ||
    mem === undefined ||
    gc === undefined ||
    cache === undefined ||
    refused === undefined ||
    panels === undefined ||
    ext === undefined
  )
    return undefined
  return {
    ...head,
    instance,
    http: { ...all, ...levels, routes },
    loop,
    mem,
    gc,
    cache,
    ...refused,
    panels,
    ext,
  }
}

/** An alert transition of `instance`; undefined when anything is wrong. */
export function checkAlert(v: unknown, instance: string): AlertTransition | undefined {
  if (!isObj(v) || v.instance !== instance) return undefined
  const name = text(v.name, MAX_KEY)
  const at = num(v.at)
  const value = v.value === undefined || v.value === null ? undefined : num(v.value)
  if (
    name === undefined ||
    name === '' ||
    (v.state !== 'firing' && v.state !== 'resolved') ||
    !SEVERITIES.has(v.severity as string) ||
    at === undefined ||
    (value === undefined && v.value !== undefined && v.value !== null)
  )
    return undefined
  return {
    name,
    state: v.state,
    severity: v.severity as AlertTransition['severity'],
    value,
    at,
    instance,
  }
}

/** The recommendations of `instance`; undefined when anything is wrong. */
export function checkRecommendations(v: unknown, instance: string): InstanceRecommendations | undefined {
  if (!isObj(v) || v.instance !== instance || !Array.isArray(v.items) || v.items.length > 50) return undefined
  const at = num(v.at)
  if (at === undefined) return undefined
  const items: InstanceRecommendations['items'] = []
  for (const x of v.items as unknown[]) {
    if (!isObj(x)) return undefined
    const id = text(x.id, MAX_KEY)
    const message = text(x.message)
    const evidence = record(x.evidence, 32, (e) => num(e) ?? text(e, MAX_KEY))
    if (
      id === undefined ||
      message === undefined ||
      evidence === undefined ||
      !SEVERITIES.has(x.severity as string)
    )
      return undefined
    items.push({ id, severity: x.severity as 'info' | 'warning' | 'critical', message, evidence })
  }
  return { instance, at, items }
}

/**
 * The rows of a table of `instance`; undefined when the table is malformed. At most 50 rows of at
 * most 64 cells; a cell that is neither a string nor a finite number is left out (what the page
 * could not show anyway).
 */
export function checkTable(v: unknown, instance: string): InstanceTable | undefined {
  if (!isObj(v) || v.instance !== instance || typeof v.id !== 'string' || !TABLE_ID.test(v.id))
    return undefined
  const at = num(v.at)
  if (at === undefined || !Array.isArray(v.rows) || v.rows.length > MAX_ROWS) return undefined
  const rows: InstanceTable['rows'] = []
  for (const r of v.rows as unknown[]) {
    if (!isObj(r)) return undefined
    const keys = Object.keys(r)
    if (keys.length > 64) return undefined
    const row: Record<string, string | number> = {}
    for (const k of keys) {
      if (k.length > MAX_KEY || k === '__proto__') return undefined
      const x = r[k]
      const cell = typeof x === 'number' && Number.isFinite(x) ? x : text(x)
      if (cell !== undefined) row[k] = cell
    }
    rows.push(row)
  }
  return { id: v.id, instance, at, rows }
}
