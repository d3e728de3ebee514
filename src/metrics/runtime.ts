/**
 * Runtime metrics: event-loop delay as a real histogram (a 10 ms drift sampler observed into
 * buckets, plus perf_hooks' percentiles), event-loop utilization, GC pauses by kind, heap and
 * RSS, process and system CPU, active handles, open file descriptors (Linux /proc).
 */
import { readdirSync } from 'node:fs'
import os from 'node:os'
import { monitorEventLoopDelay, PerformanceObserver, performance } from 'node:perf_hooks'
import { Gauge, Histogram, type Registry } from 'prom-client'

/** The runtime figures of the JSON snapshot. */
export interface RuntimeSnapshot {
  eventLoop: { delayP50Ms: number; delayP99Ms: number; delayMaxMs: number; utilization: number }
  memory: { heapUsedBytes: number; heapTotalBytes: number; rssBytes: number; externalBytes: number }
  cpu: { processPercent: number; systemPercent: number; loadAverage1m: number }
  gc: { pauses: number; pauseMsTotal: number; majorPauseMsTotal: number }
  handles: number
  openFds: number | null
}

const GC_KINDS: Record<number, string> = { 1: 'minor', 2: 'major', 4: 'incremental', 8: 'weakcb', 15: 'all' }

/** Collects runtime metrics into a registry. */
export class RuntimeCollector {
  private readonly eld = monitorEventLoopDelay({ resolution: 10 })
  private readonly lagHist: Histogram<string>
  private readonly gcHist: Histogram<string>
  private readonly gauges: Record<string, Gauge<string>>
  private sampler: NodeJS.Timeout | undefined
  private expected = 0
  private gcObserver: PerformanceObserver | undefined
  private lastElu = performance.eventLoopUtilization()
  private lastCpu = process.cpuUsage()
  private lastCpuAt = performance.now()
  private lastSys = systemTimes()
  private gcStats = { pauses: 0, pauseMsTotal: 0, majorPauseMsTotal: 0 }
  private snap: RuntimeSnapshot | undefined
  /** Heap used, sampled at each collection (bounded), for trend rules. */
  readonly heapHistory: Array<{ at: number; bytes: number }> = []

  constructor(registry: Registry, prefix: string) {
    const r = [registry]
    this.lagHist = new Histogram({
      name: `${prefix}event_loop_lag_seconds`,
      help: 'Event-loop lag measured by a 10ms timer (drift beyond the interval)',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: r,
    })
    this.gcHist = new Histogram({
      name: `${prefix}gc_pause_seconds`,
      help: 'Garbage-collection pauses by kind',
      labelNames: ['kind'],
      buckets: [0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25],
      registers: r,
    })
    const g = (name: string, help: string) => new Gauge({ name: `${prefix}${name}`, help, registers: r })
    this.gauges = {
      eldP50: g('event_loop_delay_p50_seconds', 'Event-loop delay p50 (perf_hooks histogram)'),
      eldP99: g('event_loop_delay_p99_seconds', 'Event-loop delay p99 (perf_hooks histogram)'),
      eldMax: g('event_loop_delay_max_seconds', 'Event-loop delay max since the last collection'),
      elu: g('event_loop_utilization_ratio', 'Event-loop utilization since the last collection (0..1)'),
      heapUsed: g('heap_used_bytes', 'V8 heap used'),
      heapTotal: g('heap_total_bytes', 'V8 heap total'),
      rss: g('resident_memory_bytes', 'Resident set size'),
      external: g('external_memory_bytes', 'Memory of C++ objects bound to JS, including array buffers'),
      cpu: g('process_cpu_ratio', 'Process CPU time per wall time since the last collection (1 = one core)'),
      sysCpu: g('system_cpu_ratio', 'Busy share of all cores since the last collection (0..1)'),
      load: g('system_load_average_1m', '1-minute load average'),
      handles: g('active_handles', 'Active libuv handles and requests'),
      fds: g('open_fds', 'Open file descriptors (Linux)'),
    }
  }

  /** Starts the samplers (unref'd: they never keep the process alive). */
  start(): void {
    this.eld.enable()
    this.expected = performance.now() + 10
    this.sampler = setInterval(() => {
      const now = performance.now()
      this.lagHist.observe(Math.max(0, now - this.expected) / 1000)
      this.expected = now + 10
    }, 10)
    this.sampler.unref()
    try {
      this.gcObserver = new PerformanceObserver((list) => {
        for (const e of list.getEntries()) {
          const kind = GC_KINDS[(e as unknown as { detail?: { kind?: number } }).detail?.kind ?? 0] ?? 'other'
          this.gcHist.observe({ kind }, e.duration / 1000)
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

  /** Stops the samplers. */
  stop(): void {
    this.eld.disable()
    if (this.sampler !== undefined) clearInterval(this.sampler)
    this.gcObserver?.disconnect()
  }

  /** Reads everything once; call at each collection. */
  collect(): RuntimeSnapshot {
    const ns = 1e-6
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
    const handles = process.getActiveResourcesInfo().length
    const p50 = this.eld.percentile(50) * ns
    const p99 = this.eld.percentile(99) * ns
    const max = this.eld.max * ns
    this.eld.reset()
    const g = this.gauges
    g.eldP50?.set(p50 / 1000)
    g.eldP99?.set(p99 / 1000)
    g.eldMax?.set(max / 1000)
    g.elu?.set(elu.utilization)
    g.heapUsed?.set(mem.heapUsed)
    g.heapTotal?.set(mem.heapTotal)
    g.rss?.set(mem.rss)
    g.external?.set(mem.external)
    const cpuRatio = (cpu.user + cpu.system) / 1000 / wallMs
    g.cpu?.set(cpuRatio)
    const sysRatio = total > 0 ? busy / total : 0
    g.sysCpu?.set(sysRatio)
    g.load?.set(os.loadavg()[0] ?? 0)
    g.handles?.set(handles)
    if (fds !== null) g.fds?.set(fds)
    this.heapHistory.push({ at: Date.now(), bytes: mem.heapUsed })
    if (this.heapHistory.length > 360) this.heapHistory.shift()
    this.snap = {
      eventLoop: { delayP50Ms: p50, delayP99Ms: p99, delayMaxMs: max, utilization: elu.utilization },
      memory: {
        heapUsedBytes: mem.heapUsed,
        heapTotalBytes: mem.heapTotal,
        rssBytes: mem.rss,
        externalBytes: mem.external,
      },
      cpu: {
        processPercent: cpuRatio * 100,
        systemPercent: sysRatio * 100,
        loadAverage1m: os.loadavg()[0] ?? 0,
      },
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
