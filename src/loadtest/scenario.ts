/**
 * Scenarios: what each iteration sends (steps) and the load shape (rate, stages, stairs or virtual
 * users). `validateScenario` checks a plain object from a file or from code and names the field
 * (and, through `locate`, the line) of the first problem.
 */
import { closestName } from '../options.js'
import { type Duration, toMs } from '../time.js'
import { ScenarioError } from './errors.js'

/** Values a step's path, headers and body can use as `{{name}}` (captures, `vu`, `iteration`). */
export type Vars = Record<string, string>

/** One request of an iteration. */
export interface StepSpec {
  /** Label in reports. @default method and path */
  name?: string
  /** HTTP method. @default 'GET' */
  method?: string
  /** Path (joined to the target) or absolute URL; `{{var}}` is replaced; a function in module scenarios. @default the target's path */
  path?: string | ((vars: Vars) => string)
  /** Request headers (`{{var}}` replaced). @default {} */
  headers?: Record<string, string>
  /** Request body: a string, or an object sent as JSON; a function in module scenarios. @default none */
  body?: string | object | ((vars: Vars) => string | object)
  /** Pass criteria. @default any status below 400 */
  check?: { status?: number | number[]; contains?: string }
  /** Values to capture for later steps: `'json:items.0.id'`, `'header:etag'`, `'regex:id=(\\d+)'`. @default {} */
  capture?: Record<string, string>
  /** Pause after this step. @default 0 */
  think?: Duration
  /** When any step has a weight, each iteration runs ONE step picked by weight (a request mix). @default 1 */
  weight?: number
  /** A WebSocket step: connect to `path` as ws(s), send `send`, await `replies` messages (default: one per message sent). @default an HTTP step */
  ws?: { send?: string | string[]; replies?: number }
}

/** A scenario as written in a JSON/YAML file or exported by a module. */
export interface ScenarioSpec {
  /** Label in reports. */
  name?: string
  /** Base URL (http, https). */
  target?: string
  /** Open model: constant arrival rate (req/s), or a ramp as `'100-2000'`. */
  rate?: number | string
  /** Open model: rate stages, each `{ duration, rate }` or `{ duration, from, to }`. */
  stages?: Array<{ duration: Duration; rate?: number; from?: number; to?: number }>
  /** Open model: stairs `{ from, step, steps, every }`. */
  stairs?: { from: number; step: number; steps: number; every: Duration }
  /** Closed model: number of virtual users. */
  vus?: number
  /** Closed model: pause between a user's iterations. */
  think?: Duration
  /** Length of the run (ignored with stages/stairs, which carry their own). */
  duration?: Duration
  /** Connections to the target. */
  connections?: number
  /** HTTP/1.1 pipelining depth per connection. */
  pipelining?: number
  /** Per-request timeout. */
  timeout?: Duration
  /** Offer HTTP/2 (over TLS, by ALPN). */
  http2?: boolean
  /**
   * The HTTP client: `'net'` (plain HTTP/1.1 on raw sockets, prebuilt request bytes: the fast
   * path), `'undici'`, or `'auto'`: `net` for http:// targets, undici for https://.
   */
  client?: 'auto' | 'net' | 'undici'
  /**
   * Open model: how to wait for the next send. `'timer'`: a timer (sends up to about 1 ms late,
   * next to no CPU); `'spin'`: a timer, then event-loop turns for the last 2 ms (sub-millisecond,
   * but a busy core whenever sends are less than 2 ms apart).
   */
  pacing?: 'auto' | 'timer' | 'spin' | 'precise'
  /** Thresholds such as `'p99 < 200ms'`, `'errors < 1%'`, `'rps > 1000'`. */
  thresholds?: string[]
  /** Stop the run as soon as a latency or error threshold fails. */
  abortOnFail?: boolean
  /** Outstanding iterations above which the open model drops a send. */
  maxInFlight?: number
  /** The requests of one iteration. */
  steps?: StepSpec[]
}

/** The keys a scenario may have. */
export const SCENARIO_KEYS = [
  'name',
  'target',
  'rate',
  'stages',
  'stairs',
  'vus',
  'think',
  'duration',
  'connections',
  'pipelining',
  'timeout',
  'http2',
  'client',
  'pacing',
  'thresholds',
  'abortOnFail',
  'maxInFlight',
  'steps',
] as const

const STEP_KEYS = [
  'name',
  'method',
  'path',
  'headers',
  'body',
  'check',
  'capture',
  'think',
  'weight',
  'ws',
] as const
const CLIENTS = ['auto', 'net', 'undici']
const PACINGS = ['auto', 'timer', 'spin', 'precise']
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']

/** Finds the line of a field path in the source file (undefined when unknown). */
export type Locate = (path: ReadonlyArray<string | number>) => number | undefined

/** Validates `raw` as a scenario. Throws `ScenarioError` naming file, line and field. */
export function validateScenario(
  raw: unknown,
  file?: string,
  locate: Locate = () => undefined,
): ScenarioSpec {
  const fail = (path: Array<string | number>, problem: string): never => {
    throw new ScenarioError({ file, line: locate(path), field: fieldName(path) || '(scenario)' }, problem)
  }
  if (!isObject(raw)) fail([], `a scenario must be an object (mapping); received ${kind(raw)}`)
  const s = raw as Record<string, unknown>
  unknownKeys(s, SCENARIO_KEYS, [], fail)
  optional(s, 'name', [], 'string', fail)
  if (s.target !== undefined) {
    if (typeof s.target !== 'string') fail(['target'], `must be a URL string; received ${kind(s.target)}`)
    checkUrl(s.target as string, (problem) => fail(['target'], problem))
  }
  if (s.rate !== undefined) parseRate(s.rate, (problem) => fail(['rate'], problem))
  for (const key of ['vus', 'connections', 'pipelining', 'maxInFlight'] as const)
    positiveInt(s, key, [], fail)
  for (const key of ['think', 'duration', 'timeout'] as const) duration(s[key], [key], fail)
  optional(s, 'http2', [], 'boolean', fail)
  oneOf(s, 'client', CLIENTS, fail)
  oneOf(s, 'pacing', PACINGS, fail)
  optional(s, 'abortOnFail', [], 'boolean', fail)
  if (s.thresholds !== undefined) {
    if (!Array.isArray(s.thresholds)) fail(['thresholds'], `must be a list of strings such as "p99 < 200ms"`)
    ;(s.thresholds as unknown[]).forEach((t, i) => {
      if (typeof t !== 'string')
        fail(['thresholds', i], `must be a string such as "p99 < 200ms"; received ${kind(t)}`)
    })
  }
  if (s.stages !== undefined) {
    if (!Array.isArray(s.stages) || s.stages.length === 0)
      fail(['stages'], 'must be a non-empty list of { duration, rate } or { duration, from, to }')
    ;(s.stages as unknown[]).forEach((stage, i) => {
      const at = ['stages', i]
      if (!isObject(stage)) fail(at, `must be an object { duration, rate }; received ${kind(stage)}`)
      const st = stage as Record<string, unknown>
      unknownKeys(st, ['duration', 'rate', 'from', 'to'], at, fail)
      if (st.duration === undefined) fail([...at, 'duration'], 'is required')
      duration(st.duration, [...at, 'duration'], fail)
      const hasRate = st.rate !== undefined
      if (hasRate === (st.from !== undefined || st.to !== undefined))
        fail(at, 'give either rate, or from and to')
      for (const key of ['rate', 'from', 'to']) nonNegative(st, key, at, fail)
      if (!hasRate && (st.from === undefined || st.to === undefined))
        fail(at, 'a ramp needs both from and to')
    })
  }
  if (s.stairs !== undefined) {
    if (!isObject(s.stairs)) fail(['stairs'], 'must be an object { from, step, steps, every }')
    const st = s.stairs as Record<string, unknown>
    unknownKeys(st, ['from', 'step', 'steps', 'every'], ['stairs'], fail)
    for (const key of ['from', 'step']) {
      if (st[key] === undefined) fail(['stairs', key], 'is required')
      nonNegative(st, key, ['stairs'], fail)
    }
    if (st.steps === undefined) fail(['stairs', 'steps'], 'is required')
    positiveInt(st, 'steps', ['stairs'], fail)
    if (st.every === undefined) fail(['stairs', 'every'], 'is required')
    duration(st.every, ['stairs', 'every'], fail)
  }
  const shapes = ['rate', 'stages', 'stairs', 'vus'].filter((k) => s[k] !== undefined)
  if (shapes.length > 1)
    fail(
      [shapes[1] as string],
      `give only one of rate, stages, stairs or vus (found ${shapes.join(' and ')})`,
    )
  if (s.steps !== undefined) {
    if (!Array.isArray(s.steps) || s.steps.length === 0)
      fail(['steps'], 'must be a non-empty list of requests')
    ;(s.steps as unknown[]).forEach((step, i) => {
      validateStep(step, ['steps', i], fail)
    })
  }
  return s as ScenarioSpec
}

type Fail = (path: Array<string | number>, problem: string) => never

function validateStep(step: unknown, at: Array<string | number>, fail: Fail): void {
  if (!isObject(step)) fail(at, `must be an object { method, path, ... }; received ${kind(step)}`)
  const st = step as Record<string, unknown>
  unknownKeys(st, STEP_KEYS, at, fail)
  optional(st, 'name', at, 'string', fail)
  if (st.method !== undefined) {
    const method = typeof st.method === 'string' ? st.method.toUpperCase() : undefined
    if (method === undefined || !METHODS.includes(method)) {
      const near = typeof st.method === 'string' ? closestName(st.method, METHODS) : undefined
      fail(
        [...at, 'method'],
        `must be one of ${METHODS.join(', ')}; received ${JSON.stringify(st.method)}${near ? ` (did you mean ${near}?)` : ''}`,
      )
    }
  }
  if (st.path !== undefined && typeof st.path !== 'string' && typeof st.path !== 'function')
    fail([...at, 'path'], `must be a string (or a function in a module scenario); received ${kind(st.path)}`)
  if (st.headers !== undefined) {
    if (!isObject(st.headers)) fail([...at, 'headers'], 'must be an object of header names to strings')
    for (const [name, value] of Object.entries(st.headers as object)) {
      if (typeof value !== 'string')
        fail([...at, 'headers', name], `must be a string; received ${kind(value)}`)
    }
  }
  if (st.body !== undefined && !['string', 'object', 'function'].includes(typeof st.body))
    fail([...at, 'body'], `must be a string or an object (sent as JSON); received ${kind(st.body)}`)
  if (st.check !== undefined) {
    if (!isObject(st.check)) fail([...at, 'check'], 'must be an object { status, contains }')
    const check = st.check as Record<string, unknown>
    unknownKeys(check, ['status', 'contains'], [...at, 'check'], fail)
    const statuses = Array.isArray(check.status)
      ? check.status
      : check.status === undefined
        ? []
        : [check.status]
    for (const status of statuses) {
      if (!Number.isInteger(status) || (status as number) < 100 || (status as number) > 599)
        fail(
          [...at, 'check', 'status'],
          `must be an HTTP status (100-599) or a list of them; received ${JSON.stringify(status)}`,
        )
    }
    optional(check, 'contains', [...at, 'check'], 'string', fail)
  }
  if (st.capture !== undefined) {
    if (!isObject(st.capture)) fail([...at, 'capture'], 'must be an object of variable names to sources')
    for (const [name, source] of Object.entries(st.capture as object)) {
      if (typeof source !== 'string' || !/^(json|header|regex):.+/.test(source))
        fail(
          [...at, 'capture', name],
          `must be 'json:<path>', 'header:<name>' or 'regex:<pattern>'; received ${JSON.stringify(source)}`,
        )
      if (source.startsWith('regex:')) {
        try {
          new RegExp(source.slice(6))
        } catch (err) {
          fail([...at, 'capture', name], `is not a valid regular expression: ${(err as Error).message}`)
        }
      }
    }
  }
  duration(st.think, [...at, 'think'], fail)
  nonNegative(st, 'weight', at, fail)
  if (st.ws !== undefined) {
    if (!isObject(st.ws)) fail([...at, 'ws'], 'must be an object { send, replies }')
    const ws = st.ws as Record<string, unknown>
    unknownKeys(ws, ['send', 'replies'], [...at, 'ws'], fail)
    const sends = ws.send === undefined ? [] : [ws.send].flat()
    if (sends.some((m) => typeof m !== 'string'))
      fail([...at, 'ws', 'send'], 'must be a string or a list of strings')
    if (ws.replies !== undefined && (!Number.isInteger(ws.replies) || (ws.replies as number) < 0))
      fail([...at, 'ws', 'replies'], `must be a whole number >= 0; received ${JSON.stringify(ws.replies)}`)
  }
}

/** Parses `rate`: a number, or `'from-to'` for a ramp over the run. */
export function parseRate(value: unknown, fail: (problem: string) => never): { from: number; to: number } {
  if (typeof value === 'number' && Number.isFinite(value) && value > 0) return { from: value, to: value }
  if (typeof value === 'string') {
    const m = /^\s*(\d+(?:\.\d+)?)\s*(?:-\s*(\d+(?:\.\d+)?))?\s*$/.exec(value)
    if (m !== null) {
      const from = Number(m[1])
      const to = m[2] === undefined ? from : Number(m[2])
      if (from > 0 || to > 0) return { from, to }
    }
  }
  return fail(
    `must be requests per second (> 0), or a ramp such as "100-2000"; received ${JSON.stringify(value)}`,
  )
}

/** Checks a target URL: http(s) only. */
export function checkUrl(value: string, fail: (problem: string) => never): URL {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    return fail(`is not a URL: ${JSON.stringify(value)} (write it as http://host:port/path)`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    return fail(`must be an http:// or https:// URL; received ${JSON.stringify(value)}`)
  return url
}

function fieldName(path: ReadonlyArray<string | number>): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('')
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function kind(v: unknown): string {
  if (v === null) return 'null'
  if (Array.isArray(v)) return 'a list'
  if (typeof v === 'object') return 'an object'
  return `${typeof v} ${JSON.stringify(v)}`
}

function unknownKeys(
  o: Record<string, unknown>,
  known: readonly string[],
  at: Array<string | number>,
  fail: Fail,
): void {
  for (const key of Object.keys(o)) {
    if (known.includes(key)) continue
    const near = closestName(key, known)
    fail(
      [...at, key],
      `unknown field${near === undefined ? `; known: ${known.join(', ')}` : `; did you mean "${near}"?`}`,
    )
  }
}

function optional(
  o: Record<string, unknown>,
  key: string,
  at: Array<string | number>,
  type: string,
  fail: Fail,
): void {
  if (o[key] !== undefined && typeof o[key] !== type)
    fail([...at, key], `must be a ${type}; received ${kind(o[key])}`)
}

/** A top-level string field that must be one of `values` (a near miss is named). */
function oneOf(o: Record<string, unknown>, key: string, values: string[], fail: Fail): void {
  const v = o[key]
  if (v === undefined || values.includes(v as string)) return
  const near = typeof v === 'string' ? closestName(v, values) : undefined
  fail(
    [key],
    `must be one of ${values.join(', ')}; received ${JSON.stringify(v)}${near ? ` (did you mean ${near}?)` : ''}`,
  )
}

function positiveInt(o: Record<string, unknown>, key: string, at: Array<string | number>, fail: Fail): void {
  const v = o[key]
  if (v !== undefined && (!Number.isInteger(v) || (v as number) < 1))
    fail([...at, key], `must be a whole number >= 1; received ${JSON.stringify(v)}`)
}

function nonNegative(o: Record<string, unknown>, key: string, at: Array<string | number>, fail: Fail): void {
  const v = o[key]
  if (v !== undefined && (typeof v !== 'number' || !Number.isFinite(v) || v < 0))
    fail([...at, key], `must be a number >= 0; received ${JSON.stringify(v)}`)
}

function duration(v: unknown, at: Array<string | number>, fail: Fail): void {
  if (v === undefined) return
  try {
    toMs(v, 'duration')
  } catch (err) {
    fail(at, (err as Error).message.replace(/^duration /, ''))
  }
}
