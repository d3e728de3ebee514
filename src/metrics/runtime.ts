/**
 * Runtime metrics under the names prom-client's `collectDefaultMetrics()` gives them
 * (`process_cpu_seconds_total`, `process_resident_memory_bytes`, `nodejs_eventloop_lag_p99_seconds`,
 * `nodejs_heap_size_used_bytes`, `nodejs_gc_duration_seconds`, ...), so the stock Node.js
 * dashboards work; `hotpath_*` only for what prom-client lacks (ELU, the event-loop delay as a
 * real histogram, system CPU, load average). Event-loop figures come from the shared
 * EventLoopSampler and are real delays (prom-client's include the 10 ms resolution).
 * A metric already in the registry (say, from `collectDefaultMetrics()`) is left to its owner.
 */
import { readdirSync } from 'node:fs'
import os from 'node:os'
import { PerformanceObserver, performance } from 'node:perf_hooks'
import v8 from 'node:v8'
import { Counter, Gauge, Histogram, type Registry } from 'prom-client'
import type { Disposer } from '../events.js'
import type { EventLoopSampler } from './event-loop.js'

/** The runtime figures of the JSON snapshot. */
export interface RuntimeSnapshot {
  eventLoop: {
    delayP50Ms: number
    delayP90Ms: number
    delayP99Ms: number
    delayMaxMs: number
    delayMeanMs: number
    utilization: number
  }
  memory: { heapUsedBytes: number; heapTotalBytes: number; rssBytes: number; externalBytes: number }
  cpu: { processPercent: number; systemPercent: number; loadAverage1m: number }
  gc: { pauses: number; pauseMsTotal: number; majorPauseMsTotal: number }
  handles: number
  openFds: number | null
}

// prom-client's labels for perf_hooks' GC kinds
const GC_KINDS: Record<number, string> = { 1: 'minor', 2: 'major', 4: 'incremental', 8: 'weakcb' }

type AnyMetric = Counter<string> | Gauge<string> | Histogram<string>

/** Collects runtime metrics into a registry. */
export class RuntimeCollector {
  private readonly g: Record<string, Gauge<string> | undefined> = {}
  private readonly c: Record<string, Counter<string> | undefined> = {}
  private readonly gcHist: Histogram<string> | undefined
  private readonly delayHist: Histogram<string> | undefined
  private release: Disposer | undefined
  private offDelay: Disposer | undefined
  private gcObserver: PerformanceObserver | undefined
  private lastElu = performance.eventLoopUtilization()
  private lastCpu = process.cpuUsage()
  private lastCpuAt = performance.now()
  private lastSys = systemTimes()
  private gcStats = { pauses: 0, pauseMsTotal: 0, majorPauseMsTotal: 0 }
  private snap: RuntimeSnapshot | undefined
  /** Heap used, sampled at each collection (bounded), for trend rules. */
  readonly heapHistory: Array<{ at: number; bytes: number }> = []

  constructor(
    private readonly registry: Registry,
    prefix: string,
    private readonly eventLoop: EventLoopSampler,
  ) {
    const gauge = (name: string, help: string, labelNames: string[] = []) =>
      this.own(name, () => new Gauge({ name, help, labelNames, registers: [registry] }))
    const counter = (name: string, help: string) =>
      this.own(name, () => new Counter({ name, help, registers: [registry] }))
    const g = this.g
    const c = this.c
    c.cpuUser = counter('process_cpu_user_seconds_total', 'Total user CPU time spent in seconds.')
    c.cpuSystem = counter('process_cpu_system_seconds_total', 'Total system CPU time spent in seconds.')
    c.cpu = counter('process_cpu_seconds_total', 'Total user and system CPU time spent in seconds.')
    g.start = gauge('process_start_time_seconds', 'Start time of the process since unix epoch in seconds.')
    g.rss = gauge('process_resident_memory_bytes', 'Resident memory size in bytes.')
    g.fds = gauge('process_open_fds', 'Number of open file descriptors.')
    g.lag = gauge('nodejs_eventloop_lag_seconds', 'Lag of event loop in seconds.')
    for (const s of ['min', 'max', 'mean', 'stddev', 'p50', 'p90', 'p99']) {
      g[`lag_${s}`] = gauge(
        `nodejs_eventloop_lag_${s}_seconds`,
        `The ${s} of the recorded event loop delays (real delay, without the probe interval).`,
      )
    }
    // prom-client's *_total gauges break promtool's lint; sum(nodejs_active_handles) is the total
    g.handles = gauge('nodejs_active_handles', 'Number of active libuv handles grouped by handle type.', [
      'type',
    ])
    g.requests = gauge('nodejs_active_requests', 'Number of active libuv requests grouped by request type.', [
      'type',
    ])
    g.resources = gauge(
      'nodejs_active_resources',
      'Number of active resources that are currently keeping the event loop alive, grouped by async resource type.',
      ['type'],
    )
    g.heapTotal = gauge('nodejs_heap_size_total_bytes', 'Process heap size from Node.js in bytes.')
    g.heapUsed = gauge('nodejs_heap_size_used_bytes', 'Process heap size used from Node.js in bytes.')
    g.external = gauge('nodejs_external_memory_bytes', 'Node.js external memory size in bytes.')
    for (const s of ['total', 'used', 'available']) {
      g[`space_${s}`] = gauge(
        `nodejs_heap_space_size_${s}_bytes`,
        `Process heap space size ${s} from Node.js in bytes.`,
        ['space'],
      )
    }
    g.version = gauge('nodejs_version_info', 'Node.js version info.', ['version', 'major', 'minor', 'patch'])
    this.gcHist = this.own(
      'nodejs_gc_duration_seconds',
      () =>
        new Histogram({
          name: 'nodejs_gc_duration_seconds',
          help: 'Garbage collection duration by kind, one of minor, major, incremental or weakcb.',
          labelNames: ['kind'],
          buckets: [0.001, 0.01, 0.1, 1, 2, 5],
          registers: [registry],
        }),
    )
    this.delayHist = this.own(
      `${prefix}event_loop_delay_seconds`,
      () =>
        new Histogram({
          name: `${prefix}event_loop_delay_seconds`,
          help: 'Event-loop delay: how late a 10 ms probe fires (real delay, every probe)',
          buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
          registers: [registry],
        }),
    )
    g.elu = gauge(
      `${prefix}event_loop_utilization_ratio`,
      'Event-loop utilization since the last collection (0..1)',
    )
    g.sysCpu = gauge(`${prefix}system_cpu_ratio`, 'Busy share of all cores since the last collection (0..1)')
    g.load = gauge(`${prefix}system_load_average_1m`, '1-minute load average')
    g.start?.set(Math.round(Date.now() / 1000 - process.uptime()))
    const [major, minor, patch] = process.versions.node.split('.')
    g.version?.set({ version: process.version, major, minor, patch }, 1)
  }

  /** Creates a metric unless the registry already has one of that name (its owner keeps it). */
  private own<M extends AnyMetric>(name: string, make: () => M): M | undefined {
    return this.registry.getSingleMetric(name) === undefined ? make() : undefined
  }

  /** Starts sampling (background: never keeps the process alive). */
  start(): void {
    if (this.release !== undefined) return
    this.release = this.eventLoop.retain()
    const hist = this.delayHist
    if (hist !== undefined) this.offDelay = this.eventLoop.onDelay((ms) => hist.observe(ms / 1000))
    try {
      this.gcObserver = new PerformanceObserver((list) => {
        for (const e of list.getEntries()) {
          const kind = GC_KINDS[(e as unknown as { detail?: { kind?: number } }).detail?.kind ?? 0] ?? 'other'
          this.gcHist?.observe({ kind }, e.duration / 1000)
          this.gcStats.pauses++
          this.gcStats.pauseMsTotal += e.duration
          if (kind === 'major') this.gcStats.majorPauseMsTotal += e.duration
        }
      })
      this.gcObserver.observe({ entryTypes: ['gc'] })
    } catch {
      // GC observation unavailable: the histogram stays empty
    }
  }

  /** Stops sampling. */
  stop(): void {
    this.release?.()
    this.release = undefined
    this.offDelay?.()
    this.offDelay = undefined
    this.gcObserver?.disconnect()
    this.gcObserver = undefined
  }

  /** Reads everything once; call at each collection. */
  collect(): RuntimeSnapshot {
    const elu = performance.eventLoopUtilization(this.lastElu)
    this.lastElu = performance.eventLoopUtilization()
    const now = performance.now()
    const cpu = process.cpuUsage(this.lastCpu)
    const wallMs = Math.max(1, now - this.lastCpuAt)
    this.lastCpu = process.cpuUsage()
    this.lastCpuAt = now
    const sys = systemTimes()
    const busy = sys.busy - this.lastSys.busy
    const total = sys.total - this.lastSys.total
    this.lastSys = sys
    const mem = process.memoryUsage()
    let fds: number | null = null
    try {
      fds = readdirSync('/proc/self/fd').length
    } catch {
      fds = null
    }
    const resources = process.getActiveResourcesInfo()
    const d = this.eventLoop.takeStats()
    const g = this.g
    const c = this.c
    c.cpuUser?.inc(cpu.user / 1e6)
    c.cpuSystem?.inc(cpu.system / 1e6)
    c.cpu?.inc((cpu.user + cpu.system) / 1e6)
    g.rss?.set(mem.rss)
    if (fds !== null) g.fds?.set(fds)
    g.lag?.set(this.eventLoop.lastDelayMs / 1000)
    g.lag_min?.set(d.minMs / 1000)
    g.lag_max?.set(d.maxMs / 1000)
    g.lag_mean?.set(d.meanMs / 1000)
    g.lag_stddev?.set(d.stddevMs / 1000)
    g.lag_p50?.set(d.p50Ms / 1000)
    g.lag_p90?.set(d.p90Ms / 1000)
    g.lag_p99?.set(d.p99Ms / 1000)
    const p = process as unknown as {
      _getActiveHandles?: () => unknown[]
      _getActiveRequests?: () => unknown[]
    }
    const activeHandles = p._getActiveHandles?.() ?? []
    const handles = activeHandles.length
    byType(g.handles, activeHandles.map(typeName))
    byType(g.requests, (p._getActiveRequests?.() ?? []).map(typeName))
    byType(g.resources, resources)
    g.heapTotal?.set(mem.heapTotal)
    g.heapUsed?.set(mem.heapUsed)
    g.external?.set(mem.external)
    for (const s of v8.getHeapSpaceStatistics()) {
      const space = s.space_name.replace(/_space$/, '')
      g.space_total?.set({ space }, s.space_size)
      g.space_used?.set({ space }, s.space_used_size)
      g.space_available?.set({ space }, s.space_available_size)
    }
    g.elu?.set(elu.utilization)
    const cpuRatio = (cpu.user + cpu.system) / 1000 / wallMs
    const sysRatio = total > 0 ? busy / total : 0
    g.sysCpu?.set(sysRatio)
    const load = os.loadavg()[0] ?? 0
    g.load?.set(load)
    this.heapHistory.push({ at: Date.now(), bytes: mem.heapUsed })
    if (this.heapHistory.length > 360) this.heapHistory.shift()
    this.snap = {
      eventLoop: {
        delayP50Ms: d.p50Ms,
        delayP90Ms: d.p90Ms,
        delayP99Ms: d.p99Ms,
        delayMaxMs: d.maxMs,
        delayMeanMs: d.meanMs,
        utilization: elu.utilization,
      },
      memory: {
        heapUsedBytes: mem.heapUsed,
        heapTotalBytes: mem.heapTotal,
        rssBytes: mem.rss,
        externalBytes: mem.external,
      },
      cpu: { processPercent: cpuRatio * 100, systemPercent: sysRatio * 100, loadAverage1m: load },
      gc: { ...this.gcStats },
      handles,
      openFds: fds,
    }
    return this.snap
  }

  /** The last collection (collects once if there was none). */
  last(): RuntimeSnapshot {
    return this.snap ?? this.collect()
  }
}

function typeName(o: unknown): string {
  return (o as { constructor?: { name?: string } } | null)?.constructor?.name ?? 'unknown'
}

function byType(gauge: Gauge<string> | undefined, types: string[]): void {
  if (gauge === undefined) return
  gauge.reset()
  const counts = new Map<string, number>()
  for (const t of types) counts.set(t, (counts.get(t) ?? 0) + 1)
  for (const [type, n] of counts) gauge.set({ type }, n)
}

function systemTimes(): { busy: number; total: number } {
  let busy = 0
  let total = 0
  for (const c of os.cpus()) {
    const t = c.times
    busy += t.user + t.nice + t.sys + t.irq
    total += t.user + t.nice + t.sys + t.irq + t.idle
  }
  return { busy, total }
}
