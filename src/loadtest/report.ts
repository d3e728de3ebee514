/**
 * The JSON report: totals, sends, corrected and uncorrected latency, the encoded histograms (so
 * reports merge exactly), the per-second timeline and the threshold verdicts. `mergeReports`
 * combines runs made at the same time from several machines (or workers); `formatReport` is the
 * text printed at the end of a run.
 */
import { readFile } from 'node:fs/promises'
import { type BaselineComparison, formatComparison } from './baseline.js'
import { ReportFileError } from './errors.js'
import { LatencyHistogram, type LatencySummary } from './histogram.js'
import type { RateStage } from './schedule.js'
import type { ServerSample } from './scrape.js'
import type { SendCounters, TimelinePoint } from './stats.js'
import { evaluate, type Figures, parseThreshold, type ThresholdResult } from './thresholds.js'

/** The report format identifier (bumped on incompatible changes). */
export const REPORT_FORMAT = 'hotpath-loadtest/1'

/** Why a run ended before its plan. */
export interface StopReason {
  reason: 'interrupted' | 'threshold'
  detail: string
  /** Milliseconds into the run. */
  atMs: number
}

/** The JSON report of one run (or of merged runs). */
export interface LoadTestReport {
  format: typeof REPORT_FORMAT
  name: string | undefined
  target: string
  model: 'open' | 'closed'
  /** Wall-clock start, ISO 8601. */
  startedAt: string
  /** Measured length of the run (ms). */
  durationMs: number
  /** The plan that ran. */
  plan: {
    stages: RateStage[]
    vus: number
    thinkMs: number
    connections: number
    pipelining: number
    /** The HTTP client that ran (`net`: raw sockets; absent in reports before it existed). */
    client?: 'net' | 'undici'
    /** Open model: how sends were paced (absent in closed runs and in reports before it existed). */
    pacing?: 'timer' | 'spin' | 'precise'
    timeoutMs: number
    maxInFlight: number
    lateAfterMs: number
  }
  requests: number
  errors: number
  /** errors / requests. */
  errorRate: number
  /** Completed requests per second. */
  rps: number
  bytes: number
  statuses: Record<string, number>
  errorKinds: Record<string, number>
  sends: SendCounters & { delay: LatencySummary }
  latency: {
    /**
     * From each request's intended send time (open model), from the user's request (closed: with
     * any wait for a free connection, which `uncorrected` leaves out).
     */
    corrected: LatencySummary
    /** From the actual send. */
    uncorrected: LatencySummary
  }
  /** HdrHistogram compressed base64 (microseconds). */
  histograms: { corrected: string; uncorrected: string; sendDelay: string }
  timeline: TimelinePoint[]
  thresholds: ThresholdResult[]
  /** All thresholds held (true when there are none). */
  passed: boolean
  stopped: StopReason | undefined
  /** Number of runs merged into this report (1 for a plain run). */
  runs: number
  /** The target's own figures, scraped from its Prometheus endpoint once a second. */
  server?: { url: string; samples: ServerSample[] }
  /** The comparison with `--baseline`, when one was given. */
  comparison?: BaselineComparison
}

/** Threshold figures of a report (from its histograms, so merged reports are exact). */
export function figuresOf(report: LoadTestReport): Figures {
  const h = LatencyHistogram.decode(report.histograms.corrected)
  const s = report.latency.corrected
  return {
    percentile: (p) => h.at(p),
    mean: s.mean,
    min: s.min,
    max: s.max,
    requests: report.requests,
    errors: report.errors,
    rps: report.rps,
    scheduled: report.sends.scheduled,
    dropped: report.sends.dropped,
  }
}

/** Re-checks `thresholds` against `report` (after a merge, or with new thresholds). */
export function checkThresholds(report: LoadTestReport, thresholds: readonly string[]): LoadTestReport {
  const figures = figuresOf(report)
  const results = thresholds.map((t, i) => evaluate(parseThreshold(t, `thresholds[${i}]`), figures))
  return { ...report, thresholds: results, passed: results.every((r) => r.ok) }
}

/** Reads and checks a report file written by `hotpath loadtest --out`. */
export async function readReport(file: string): Promise<LoadTestReport> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err) {
    throw new ReportFileError(file, `cannot be read: ${(err as Error).message}`, err)
  }
  let data: unknown
  try {
    data = JSON.parse(text)
  } catch (err) {
    throw new ReportFileError(file, `is not JSON: ${(err as Error).message}`, err)
  }
  const r = data as Partial<LoadTestReport>
  if (r?.format !== REPORT_FORMAT)
    throw new ReportFileError(
      file,
      `is not a hotpath load-test report (format ${JSON.stringify(r?.format)}, expected ${JSON.stringify(REPORT_FORMAT)}); write one with hotpath loadtest --out`,
    )
  for (const key of ['corrected', 'uncorrected', 'sendDelay'] as const) {
    try {
      LatencyHistogram.decode(r.histograms?.[key] as string)
    } catch (err) {
      throw new ReportFileError(file, `histograms.${key} is not an encoded HdrHistogram`, err)
    }
  }
  return r as LoadTestReport
}

/**
 * Merges reports of runs made at the same time (several machines or workers against one target):
 * histograms add exactly, counts add, the span runs from the first start to the last end, and the
 * timelines add second by second on the wall clock.
 */
export function mergeReports(reports: readonly LoadTestReport[]): LoadTestReport {
  const [first] = reports
  if (first === undefined) throw new RangeError('mergeReports needs at least one report')
  const hist = {
    corrected: new LatencyHistogram(),
    uncorrected: new LatencyHistogram(),
    sendDelay: new LatencyHistogram(),
  }
  let start = Number.POSITIVE_INFINITY
  let end = 0
  const sum = { requests: 0, errors: 0, bytes: 0, scheduled: 0, sent: 0, dropped: 0, late: 0, runs: 0 }
  const statuses: Record<string, number> = {}
  const errorKinds: Record<string, number> = {}
  const seconds = new Map<number, TimelinePoint[]>()
  for (const r of reports) {
    for (const key of ['corrected', 'uncorrected', 'sendDelay'] as const)
      hist[key].add(LatencyHistogram.decode(r.histograms[key]))
    const s = Date.parse(r.startedAt)
    start = Math.min(start, s)
    end = Math.max(end, s + r.durationMs)
    sum.requests += r.requests
    sum.errors += r.errors
    sum.bytes += r.bytes
    sum.scheduled += r.sends.scheduled
    sum.sent += r.sends.sent
    sum.dropped += r.sends.dropped
    sum.late += r.sends.late
    sum.runs += r.runs
    addCounts(statuses, r.statuses)
    addCounts(errorKinds, r.errorKinds)
    for (const p of r.timeline) {
      const wall = Math.round(s / 1000 + p.t)
      const list = seconds.get(wall) ?? []
      list.push(p)
      seconds.set(wall, list)
    }
  }
  const startSec = Math.round(start / 1000)
  const timeline = [...seconds.entries()]
    .sort(([a], [b]) => a - b)
    .map(([wall, points]) => ({
      t: wall - startSec,
      requests: points.reduce((n, p) => n + p.requests, 0),
      errors: points.reduce((n, p) => n + p.errors, 0),
      // Per-second percentiles are not mergeable exactly: the worst machine's is kept (an upper bound).
      p50: Math.max(...points.map((p) => p.p50)),
      p90: Math.max(...points.map((p) => p.p90)),
      p99: Math.max(...points.map((p) => p.p99)),
      max: Math.max(...points.map((p) => p.max)),
    }))
  const durationMs = end - start
  const merged: LoadTestReport = {
    ...first,
    startedAt: new Date(start).toISOString(),
    durationMs,
    requests: sum.requests,
    errors: sum.errors,
    errorRate: sum.requests === 0 ? 0 : sum.errors / sum.requests,
    rps: durationMs <= 0 ? 0 : (sum.requests * 1000) / durationMs,
    bytes: sum.bytes,
    statuses,
    errorKinds,
    sends: {
      scheduled: sum.scheduled,
      sent: sum.sent,
      dropped: sum.dropped,
      late: sum.late,
      delay: hist.sendDelay.summary(),
    },
    latency: { corrected: hist.corrected.summary(), uncorrected: hist.uncorrected.summary() },
    histograms: {
      corrected: hist.corrected.encode(),
      uncorrected: hist.uncorrected.encode(),
      sendDelay: hist.sendDelay.encode(),
    },
    timeline,
    stopped: reports.find((r) => r.stopped !== undefined)?.stopped,
    runs: sum.runs,
  }
  return checkThresholds(
    merged,
    first.thresholds.map((t) => t.threshold),
  )
}

function addCounts(into: Record<string, number>, from: Record<string, number>): void {
  for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v
}

/** Milliseconds as people read them: 0.84ms, 12.3ms, 1.02s. */
export function formatMs(ms: number): string {
  if (ms >= 1000) return `${(ms / 1000).toFixed(ms >= 10_000 ? 1 : 2)}s`
  if (ms >= 100) return `${ms.toFixed(0)}ms`
  if (ms >= 10) return `${ms.toFixed(1)}ms`
  return `${ms.toFixed(2)}ms`
}

function latencyLine(label: string, s: LatencySummary): string {
  const p = s.percentiles
  return `${label.padEnd(13)} p50 ${formatMs(p.p50 ?? 0)}  p90 ${formatMs(p.p90 ?? 0)}  p95 ${formatMs(p.p95 ?? 0)}  p99 ${formatMs(p.p99 ?? 0)}  p99.9 ${formatMs(p['p99.9'] ?? 0)}  max ${formatMs(s.max)}  mean ${formatMs(s.mean)}`
}

/** The end-of-run text. */
export function formatReport(r: LoadTestReport): string {
  const lines: string[] = []
  const shape =
    r.model === 'open'
      ? `open model, ${r.plan.stages.map((s) => (s.from === s.to ? `${s.from}/s` : `${s.from}->${s.to}/s`)).join(', ')}`
      : `closed model, ${r.plan.vus} users${r.plan.thinkMs > 0 ? `, think ${formatMs(r.plan.thinkMs)}` : ''}`
  lines.push(
    `${r.name === undefined ? '' : `${r.name}: `}${r.target}  (${shape}, ${r.plan.connections} connections${r.runs > 1 ? `, ${r.runs} runs merged` : ''})`,
  )
  lines.push(
    `requests      ${r.requests} in ${(r.durationMs / 1000).toFixed(1)}s = ${r.rps.toFixed(1)}/s, errors ${r.errors} (${(r.errorRate * 100).toFixed(2)}%), ${(r.bytes / 1e6).toFixed(1)} MB read`,
  )
  if (r.model === 'open') {
    lines.push(`${latencyLine('latency', r.latency.corrected)}   (from intended send time)`)
    lines.push(`${latencyLine('uncorrected', r.latency.uncorrected)}   (from actual send: hides queueing)`)
    const s = r.sends
    const achieved = s.scheduled === 0 ? 0 : (s.sent / s.scheduled) * 100
    lines.push(
      `sends         ${s.sent} of ${s.scheduled} (${achieved.toFixed(2)}%), dropped ${s.dropped}, late ${s.late} (> ${formatMs(r.plan.lateAfterMs)}); send delay p50 ${formatMs(s.delay.percentiles.p50 ?? 0)} p99 ${formatMs(s.delay.percentiles.p99 ?? 0)}`,
    )
  } else {
    // the figure thresholds and baselines judge: from the user's request, a wait for a
    // connection included (users beyond the connections queue in the generator)
    lines.push(latencyLine('latency', r.latency.corrected))
    if (r.plan.vus > r.plan.connections * r.plan.pipelining)
      lines.push(
        `${latencyLine('on the wire', r.latency.uncorrected)}   (from the write to the socket: without the wait for a connection)`,
      )
  }
  const statuses = Object.entries(r.statuses).map(([k, v]) => `${k}: ${v}`)
  if (statuses.length > 0) lines.push(`statuses      ${statuses.join(', ')}`)
  const kinds = Object.entries(r.errorKinds)
    .sort(([, a], [, b]) => b - a)
    .slice(0, 5)
  if (kinds.length > 0) lines.push(`errors        ${kinds.map(([k, v]) => `${k}: ${v}`).join(', ')}`)
  for (const t of r.thresholds)
    lines.push(
      `threshold     ${t.ok ? 'PASS' : 'FAIL'}  ${t.threshold}  (${typeof t.actual !== 'number' || Number.isNaN(t.actual) ? 'no request finished' : `actual ${t.actual}${/errors|dropped/.test(t.threshold) && t.threshold.includes('%') ? '%' : ''}`})`,
    )
  if (r.server !== undefined) lines.push(formatServer(r.server.samples))
  if (r.comparison !== undefined) lines.push(formatComparison(r.comparison))
  if (r.stopped !== undefined)
    lines.push(
      `stopped       ${r.stopped.reason} after ${(r.stopped.atMs / 1000).toFixed(1)}s: ${r.stopped.detail}`,
    )
  return lines.join('\n')
}

function formatServer(samples: readonly ServerSample[]): string {
  const max = (f: (s: ServerSample) => number | undefined): number | undefined => {
    const values = samples.map(f).filter((v): v is number => v !== undefined)
    return values.length === 0 ? undefined : Math.max(...values)
  }
  const parts: string[] = []
  const lag = max((s) => s.eventLoopP99Ms)
  if (lag !== undefined) parts.push(`event-loop p99 max ${formatMs(lag)}`)
  const cpu = max((s) => s.cpu)
  if (cpu !== undefined) parts.push(`CPU max ${(cpu * 100).toFixed(0)}%`)
  const hit = samples.map((s) => s.cacheHitRatio).filter((v): v is number => v !== undefined)
  if (hit.length > 0) parts.push(`cache hit ratio min ${(Math.min(...hit) * 100).toFixed(1)}%`)
  const waiting = max((s) => s.poolWaiting)
  if (waiting !== undefined) parts.push(`pool waiters max ${waiting}`)
  const shed = max((s) => s.shedPerSec)
  if (shed !== undefined) parts.push(`shed max ${shed}/s`)
  const rss = max((s) => s.rssMb)
  if (rss !== undefined) parts.push(`RSS max ${rss.toFixed(0)} MB`)
  return `server        ${samples.length} scrapes: ${parts.join(', ') || 'no known metrics'}`
}
