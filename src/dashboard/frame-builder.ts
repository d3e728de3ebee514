/**
 * Builds one frame per tick from the monitor: HTTP figures from its request histogram, cache
 * lookups, shedding and GC from its registry, rate-limit refusals from the attached limiters,
 * the event loop from its sampler, memory from the process, and the extra panels.
 */
import { performance } from 'node:perf_hooks'
import type { Disposer } from '../events.js'
import type { Monitor } from '../metrics/index.js'
import type { DashboardPanel } from './panels.js'
import { addInto, quantileMs } from './quantiles.js'
import { RegistryReader } from './registry-reader.js'
import type { Frame, RouteFigures } from './types.js'

/** The latency buckets the page assumes until the histogram exists (the monitor's defaults). */
export const DEFAULT_BOUNDS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

/** Empty per-tick figures. */
export function emptyRoute(width: number): RouteFigures {
  return { n: 0, status: {}, p50: 0, p95: 0, p99: 0, b: new Array<number>(width).fill(0) }
}

/** Fills p50/p95/p99 from the buckets. */
export function settle(r: RouteFigures, bounds: readonly number[]): RouteFigures {
  r.p50 = round(quantileMs(r.b, bounds, 0.5))
  r.p95 = round(quantileMs(r.b, bounds, 0.95))
  r.p99 = round(quantileMs(r.b, bounds, 0.99))
  return r
}

const round = (v: number): number => Math.round(v * 1000) / 1000

/** Builds frames for one monitor. */
export class FrameBuilder {
  private readonly reader: RegistryReader
  private readonly prefix: string
  private seq = 0
  private lastAt: number
  private lastElu = performance.eventLoopUtilization()
  private loopMax = 0
  private loopSum = 0
  private loopCount = 0
  private readonly offDelay: Disposer
  private readonly release: Disposer
  private readonly limiterCounts = new Map<string, number>()
  /** Finite latency bucket bounds (seconds) of the request histogram. */
  bounds: number[] = DEFAULT_BOUNDS
  /** Set when `bounds` changed (the pages need a new hello); the reader clears it. */
  boundsChanged = false

  constructor(
    private readonly monitor: Monitor,
    private readonly instance: string,
    private readonly maxRoutes: number,
    private readonly now: () => number,
  ) {
    this.reader = new RegistryReader(monitor.registry)
    this.prefix = monitor.prefix
    this.lastAt = now()
    this.release = monitor.eventLoop.retain()
    this.offDelay = monitor.eventLoop.onDelay((ms) => {
      if (ms > this.loopMax) this.loopMax = ms
      this.loopSum += ms
      this.loopCount++
    })
    // what was counted before the dashboard started is a baseline, not a burst in the first frame
    // (prom-client computes a plain metric's values synchronously, so this reads them now)
    const p = this.prefix
    this.primed = Promise.all([
      this.reader.histogram(`${p}http_request_duration_seconds`),
      this.reader.counter(`${p}cache_requests_total`, () => ''),
      this.reader.counter(`${p}http_requests_shed_total`, () => ''),
      this.reader.histogram('nodejs_gc_duration_seconds'),
    ]).then(
      () => {},
      () => {},
    )
    this.rateLimited()
  }

  private readonly primed: Promise<void>

  /** Stops listening to the event-loop sampler. */
  dispose(): void {
    this.offDelay()
    this.release()
  }

  /** The figures since the previous call. */
  async build(panels: readonly Readonly<DashboardPanel>[], ext: Frame['ext']): Promise<Frame> {
    await this.primed
    const t = this.now()
    const dt = Math.max(0.001, (t - this.lastAt) / 1000)
    this.lastAt = t
    const p = this.prefix
    const frame: Frame = {
      seq: ++this.seq,
      t,
      dt,
      instance: this.instance,
      http: { ...emptyRoute(this.bounds.length + 1), total: 0, inflight: 0, routes: {} },
      loop: this.loop(),
      mem: this.memory(),
      gc: { n: 0, ms: 0 },
      cache: {},
      shed: 0,
      rateLimited: this.rateLimited(),
      panels: {},
      ext,
    }
    await this.http(frame)
    const cache = await this.reader.counter(
      `${p}cache_requests_total`,
      (l) => `${l.cache}/${l.tier}\u0000${l.result === 'hit' ? 'hits' : 'misses'}`,
    )
    for (const [key, n] of cache) {
      const [name, field] = key.split('\u0000') as [string, 'hits' | 'misses']
      const c = frame.cache[name] ?? { hits: 0, misses: 0 }
      c[field] += n
      frame.cache[name] = c
    }
    for (const n of (await this.reader.counter(`${p}http_requests_shed_total`, () => '')).values())
      frame.shed += n
    const gc = await this.reader.histogram('nodejs_gc_duration_seconds')
    if (gc !== undefined) {
      for (const d of gc.deltas.values()) for (const c of d.buckets) frame.gc.n += c
      frame.gc.ms = round(gc.sumDelta * 1000)
    }
    frame.http.inflight = (await this.reader.gauge(`${p}http_requests_in_flight`)) ?? 0
    const ctx = { registry: this.monitor.registry, dt }
    for (const panel of panels) {
      try {
        const v = await panel.sample(ctx)
        if (v !== undefined && v !== null && typeof v === 'object') frame.panels[panel.id] = finite(v)
      } catch {
        // a failing panel leaves a gap in its chart; the rest of the frame is still worth sending
      }
    }
    return frame
  }

  private async http(frame: Frame): Promise<void> {
    const read = await this.reader.histogram(`${this.prefix}http_request_duration_seconds`)
    if (read === undefined) return
    if (read.bounds.length > 0 && !sameBounds(read.bounds, this.bounds)) {
      this.bounds = read.bounds
      this.boundsChanged = true
    }
    const width = this.bounds.length + 1
    const all = frame.http
    all.b = new Array<number>(width).fill(0)
    all.total = read.total
    const routes = new Map<string, RouteFigures>()
    for (const { labels, buckets } of read.deltas.values()) {
      const key = `${labels.method ?? ''} ${labels.route ?? ''}`
      let r = routes.get(key)
      if (r === undefined) {
        r = emptyRoute(width)
        routes.set(key, r)
      }
      let n = 0
      for (const c of buckets) n += c
      const cls = String(labels.status_class ?? 'other')
      r.n += n
      r.status[cls] = (r.status[cls] ?? 0) + n
      addInto(r.b, buckets)
      all.n += n
      all.status[cls] = (all.status[cls] ?? 0) + n
      addInto(all.b, buckets)
    }
    settle(all, this.bounds)
    const busiest = [...routes].sort((a, b) => b[1].n - a[1].n).slice(0, this.maxRoutes)
    for (const [key, r] of busiest) all.routes[key] = settle(r, this.bounds)
  }

  private loop(): Frame['loop'] {
    const elu = performance.eventLoopUtilization(this.lastElu)
    this.lastElu = performance.eventLoopUtilization()
    const out = {
      maxMs: round(this.loopMax),
      meanMs: this.loopCount === 0 ? 0 : round(this.loopSum / this.loopCount),
      elu: round(elu.utilization),
    }
    this.loopMax = 0
    this.loopSum = 0
    this.loopCount = 0
    return out
  }

  private memory(): Frame['mem'] {
    const m = process.memoryUsage()
    return { heapUsed: m.heapUsed, heapTotal: m.heapTotal, rss: m.rss }
  }

  private rateLimited(): number {
    let sum = 0
    // two limiters may share a name: each keeps its own count, by name and order of appearance
    // (regression: sharing one slot, each read the other's count as a reset and the chart summed
    // totals instead of deltas)
    const seen = new Map<string, number>()
    // the snapshot is the one public door to the attached components; it reads their stats()
    for (const c of this.monitor.snapshot().components) {
      if (c.kind !== 'rate-limiter') continue
      const n = seen.get(c.name) ?? 0
      seen.set(c.name, n + 1)
      const slot = n === 0 ? c.name : `${c.name}#${n}`
      const rejected = Number((c.stats as { rejected?: unknown }).rejected ?? 0)
      const before = this.limiterCounts.get(slot) ?? 0
      this.limiterCounts.set(slot, rejected)
      sum += rejected >= before ? rejected - before : rejected
    }
    return sum
  }
}

function sameBounds(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i])
}

function finite(v: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {}
  for (const [k, n] of Object.entries(v)) if (typeof n === 'number' && Number.isFinite(n)) out[k] = n
  return out
}
