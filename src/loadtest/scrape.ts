/**
 * Server-side correlation: the target's Prometheus endpoint scraped once a second during the run
 * and reduced to the figures that explain latency (event-loop delay and utilization, CPU, RSS,
 * requests in flight, cache hit ratio, pool waiters, shed requests), on the run's time axis.
 * Counters become per-interval rates from consecutive scrapes. Unknown metrics are ignored, so any
 * Prometheus target works; a hotpath server exposes all of them.
 */
import { request } from 'undici'

/** One scrape, reduced. Fields are absent when the target does not expose them. */
export interface ServerSample {
  /** Seconds since the start of the run. */
  t: number
  /** Event-loop delay p99 (ms), from `nodejs_eventloop_lag_p99_seconds`. */
  eventLoopP99Ms?: number
  /** Event-loop utilization 0-1 (`hotpath_event_loop_utilization_ratio`). */
  eventLoopUtilization?: number
  /** CPU seconds per second since the last scrape (`process_cpu_seconds_total`). */
  cpu?: number
  /** Resident memory (MB). */
  rssMb?: number
  /** Requests in flight (`hotpath_http_requests_in_flight`). */
  inFlight?: number
  /** Cache hits / lookups since the last scrape (`hotpath_cache_requests_total` by result). */
  cacheHitRatio?: number
  /** Callers waiting for a pool resource (any gauge whose name has `pool` and `waiting`). */
  poolWaiting?: number
  /** Requests shed per second since the last scrape (any counter with `shed` in its name). */
  shedPerSec?: number
}

/** Parsed exposition: metric name to its series (label text, value). */
type Exposition = Map<string, Array<{ labels: string; value: number }>>

/** Parses the Prometheus text format (the parts this needs: names, label text, values). */
export function parseExposition(text: string): Exposition {
  const out: Exposition = new Map()
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/.exec(line)
    if (m === null) continue
    const value = Number(m[3])
    if (!Number.isFinite(value)) continue
    const list = out.get(m[1] as string) ?? []
    list.push({ labels: m[2] ?? '', value })
    out.set(m[1] as string, list)
  }
  return out
}

function sum(e: Exposition, name: string, labelFilter?: RegExp): number | undefined {
  const series = e.get(name)
  if (series === undefined) return undefined
  return series
    .filter((s) => labelFilter === undefined || labelFilter.test(s.labels))
    .reduce((n, s) => n + s.value, 0)
}

function sumMatching(e: Exposition, pattern: RegExp, suffix?: string): number | undefined {
  let total: number | undefined
  for (const [name, series] of e) {
    if (!pattern.test(name) || (suffix !== undefined && !name.endsWith(suffix))) continue
    total = (total ?? 0) + series.reduce((n, s) => n + s.value, 0)
  }
  return total
}

/** Reduces two consecutive scrapes (`prev` may be undefined for the first) to a sample. */
export function reduceScrape(
  t: number,
  e: Exposition,
  prev: { e: Exposition; t: number } | undefined,
): ServerSample {
  const s: ServerSample = { t }
  const lag = sum(e, 'nodejs_eventloop_lag_p99_seconds')
  if (lag !== undefined) s.eventLoopP99Ms = round(lag * 1000)
  const elu = sum(e, 'hotpath_event_loop_utilization_ratio')
  if (elu !== undefined) s.eventLoopUtilization = round(elu)
  const rss = sum(e, 'process_resident_memory_bytes')
  if (rss !== undefined) s.rssMb = round(rss / 1e6)
  const inFlight = sum(e, 'hotpath_http_requests_in_flight')
  if (inFlight !== undefined) s.inFlight = inFlight
  const waiting = sumMatching(e, /pool.*waiting|waiting.*pool/)
  if (waiting !== undefined) s.poolWaiting = waiting
  if (prev !== undefined && t > prev.t) {
    const dt = t - prev.t
    const delta = (get: (x: Exposition) => number | undefined): number | undefined => {
      const a = get(prev.e)
      const b = get(e)
      return a === undefined || b === undefined ? undefined : Math.max(0, b - a)
    }
    const cpu = delta((x) => sum(x, 'process_cpu_seconds_total'))
    if (cpu !== undefined) s.cpu = round(cpu / dt)
    const hits = delta((x) => sum(x, 'hotpath_cache_requests_total', /result="hit"/))
    const all = delta((x) => sum(x, 'hotpath_cache_requests_total'))
    if (hits !== undefined && all !== undefined && all > 0) s.cacheHitRatio = round(hits / all)
    const shed = delta((x) => sumMatching(x, /shed/, '_total'))
    if (shed !== undefined) s.shedPerSec = round(shed / dt)
  }
  return s
}

/** Fetches `url`'s exposition (undefined when it does not answer as Prometheus text within `timeoutMs`). */
export async function scrape(url: string, timeoutMs: number): Promise<Exposition | undefined> {
  try {
    const res = await request(url, { headersTimeout: timeoutMs, bodyTimeout: timeoutMs })
    const text = await res.body.text()
    if (res.statusCode !== 200 || !/^# (TYPE|HELP) /m.test(text)) return undefined
    return parseExposition(text)
  } catch {
    return undefined
  }
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000
}
