/**
 * Thresholds: `p99 < 200ms`, `mean <= 50ms`, `errors < 1%` (a rate) or `errors < 10` (a count),
 * `rps > 1000`, `dropped < 1%`. They set the exit code; latency and error thresholds can also
 * stop a run early (`abortOnFail`), after a warm-up so a cold first second cannot end it.
 */
import { ScenarioError } from './errors.js'

/** A parsed threshold. */
export interface Threshold {
  /** As written. */
  source: string
  /** `p99`, `p99.9`, `mean`, `min`, `max`, `errors`, `rps`, `dropped`. */
  metric: string
  op: '<' | '<=' | '>' | '>='
  /** Milliseconds for latency, a fraction for rates (`1%` = 0.01), a count or req/s otherwise. */
  value: number
  /** For errors and dropped: compare the rate (`%` given) or the count. */
  asRate: boolean
}

/** Figures a threshold is checked against. */
export interface Figures {
  /** Latency (ms) at a percentile 0-100. */
  percentile(p: number): number
  mean: number
  min: number
  max: number
  requests: number
  errors: number
  rps: number
  scheduled: number
  dropped: number
}

/** A threshold's verdict. */
export interface ThresholdResult {
  threshold: string
  ok: boolean
  /** The measured figure, in the threshold's unit (ms, %, count, req/s). */
  actual: number
}

const PATTERN =
  /^\s*(p\d+(?:\.\d+)?|mean|avg|min|max|errors|rps|dropped)\s*(<=|>=|<|>)\s*(\d+(?:\.\d+)?)\s*(us|µs|ms|s|%)?\s*$/i
const UNIT_MS: Record<string, number> = { us: 0.001, µs: 0.001, ms: 1, s: 1000 }

/** Parses one threshold; `field` names it in the error (`--threshold`, `thresholds[0]`). */
export function parseThreshold(source: string, field: string, file?: string): Threshold {
  const m = PATTERN.exec(source)
  const fail = (problem: string): never => {
    throw new ScenarioError({ file, field }, `${problem}; received ${JSON.stringify(source)}`)
  }
  if (m === null)
    return fail('must look like "p99 < 200ms", "mean < 50ms", "errors < 1%", "rps > 1000" or "dropped < 1%"')
  let metric = (m[1] as string).toLowerCase()
  if (metric === 'avg') metric = 'mean'
  const op = m[2] as Threshold['op']
  const unit = m[4]?.toLowerCase()
  let value = Number(m[3])
  const latency = metric.startsWith('p') || metric === 'mean' || metric === 'min' || metric === 'max'
  if (latency) {
    if (unit === '%') fail('a latency threshold needs a time unit (us, ms, s), not %')
    value *= UNIT_MS[unit ?? 'ms'] as number
    const p = metric.startsWith('p') ? Number(metric.slice(1)) : 0
    if (p > 100) fail('a percentile must be between 0 and 100')
  } else if (metric === 'rps') {
    if (unit !== undefined) fail('rps is requests per second: no unit')
  } else if (unit !== undefined && unit !== '%') {
    fail(`${metric} is a rate (with %) or a count (no unit)`)
  }
  const asRate = unit === '%'
  if (asRate) value /= 100
  return { source: source.trim(), metric, op, value, asRate }
}

/** True for thresholds that may stop a run early (rps and dropped only make sense at the end). */
export function canAbortEarly(t: Threshold): boolean {
  return t.metric !== 'rps' && t.metric !== 'dropped'
}

/** True for latency thresholds (percentiles, mean, min, max): they need a finished request. */
export function isLatency(t: Threshold): boolean {
  return t.metric.startsWith('p') || t.metric === 'mean' || t.metric === 'min' || t.metric === 'max'
}

/**
 * Checks `t` against `f`. A latency threshold with no finished request fails (`actual` NaN,
 * null in JSON): there is no latency to hold it (regression: it read 0 ms and passed).
 */
export function evaluate(t: Threshold, f: Figures): ThresholdResult {
  if (f.requests === 0 && isLatency(t)) return { threshold: t.source, ok: false, actual: Number.NaN }
  let actual: number
  if (t.metric.startsWith('p')) actual = f.percentile(Number(t.metric.slice(1)))
  else if (t.metric === 'mean') actual = f.mean
  else if (t.metric === 'min') actual = f.min
  else if (t.metric === 'max') actual = f.max
  else if (t.metric === 'rps') actual = f.rps
  else if (t.metric === 'errors') actual = t.asRate ? ratio(f.errors, f.requests) : f.errors
  else actual = t.asRate ? ratio(f.dropped, f.scheduled) : f.dropped
  const ok =
    t.op === '<'
      ? actual < t.value
      : t.op === '<='
        ? actual <= t.value
        : t.op === '>'
          ? actual > t.value
          : actual >= t.value
  return { threshold: t.source, ok, actual: t.asRate ? round(actual * 100) : round(actual) }
}

function ratio(n: number, d: number): number {
  return d === 0 ? 0 : n / d
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000
}
