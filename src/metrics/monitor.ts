/**
 * createMonitor(): one monitor every other part reports into. Built on a prom-client registry
 * (its own, or one you pass): helpers for counters, gauges and histograms behind a cardinality
 * guard, `measure()` and timers, per-operation stats, runtime metrics, adapters for attached
 * components, alert rules, health checks, recommendations, a JSON snapshot and Prometheus text.
 */
import { performance } from 'node:perf_hooks'
import { Counter, Gauge, Histogram, Registry } from 'prom-client'
import type { Disposer } from '../events.js'
import { assertKnownKeys } from '../options.js'
import { type Clock, systemClock, toMs } from '../time.js'
import type { Instrumentable, MonitorLike } from '../types.js'
import {
  type Adapter,
  type AdapterContext,
  type Attachment,
  cacheAdapter,
  genericAdapter,
} from './adapters.js'
import { AlertManager, type AlertRule, type AlertStatus } from './alerts.js'
import { BoundHistogram, LiveGauge } from './bound.js'
import { CardinalityGuard, type Labels } from './cardinality.js'
import { EventLoopSampler } from './event-loop.js'
import { canStream, exposition } from './exposition.js'
import { type HealthCheck, HealthRegistry, type HealthReport } from './health.js'
import { liveMetric } from './live-metric.js'
import { envOptions, KNOWN_OPTIONS, type MonitorOptions, type MonitorSnapshot } from './monitor-options.js'
import { OperationStatsTable } from './op-stats.js'
import { builtInRules, type Recommendation, type RecommendationRule } from './recommendations.js'
import { redisAdapter } from './redis.js'
import { RuntimeCollector, type RuntimeSnapshot } from './runtime.js'

const DEFAULT_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

interface OpHandle {
  child: { observe(v: number): void }
  errors: { inc(): void }
}

/** The monitor. */
export class Monitor implements MonitorLike {
  readonly registry: Registry
  readonly prefix: string
  /** The one event-loop sampler: runtime metrics read it, and so can load shedding. */
  readonly eventLoop: EventLoopSampler
  private readonly clock: Clock
  private readonly guard: CardinalityGuard
  private readonly ops: OperationStatsTable
  private readonly opHandles = new Map<string, OpHandle>()
  private readonly opHistogram: Histogram<string>
  private readonly opErrors: Counter<string>
  private readonly runtime: RuntimeCollector | undefined
  private readonly alertManager: AlertManager
  private readonly healthRegistry: HealthRegistry
  private readonly recRules: RecommendationRule[]
  private readonly adapters = new Map<string, Adapter>([
    ['cache', cacheAdapter],
    ['redis', redisAdapter],
  ])
  private readonly attached = new Map<Instrumentable, Attachment>()
  private readonly metricsCache = new Map<string, Counter<string> | Gauge<string> | Histogram<string>>()
  private readonly bound = new Map<string, BoundHistogram>()
  private readonly liveGauges = new Map<string, LiveGauge>()
  private readonly previousStats = new Map<string, Record<string, unknown>>()
  private readonly warn: (message: string) => void
  private readonly intervalMs: number
  private readonly startedAt: number
  private loopTimer: unknown
  private lastRuntime: RuntimeSnapshot | null = null
  readonly enabled: boolean

  constructor(options: MonitorOptions = {}) {
    if (options === null || typeof options !== 'object')
      throw new TypeError('createMonitor options must be an object')
    assertKnownKeys(options, KNOWN_OPTIONS, 'createMonitor options')
    assertKnownKeys(options.operations, ['samples', 'maxOperations'], 'createMonitor operations')
    assertKnownKeys(options.recommendations, ['builtIn', 'rules'], 'createMonitor recommendations')
    const env = envOptions(options.env ?? process.env)
    this.registry = options.registry ?? new Registry()
    if (
      !(this.registry instanceof Registry) &&
      typeof (this.registry as { metrics?: unknown }).metrics !== 'function'
    ) {
      throw new TypeError('registry must be a prom-client Registry')
    }
    this.prefix = options.prefix ?? 'hotpath_'
    if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(this.prefix)) {
      throw new TypeError(
        `prefix must be a valid Prometheus metric name prefix; received ${JSON.stringify(this.prefix)}`,
      )
    }
    this.clock = options.clock ?? systemClock
    this.enabled = options.enabled ?? env.enabled ?? true
    this.intervalMs = toMs(options.collectInterval ?? env.collectInterval ?? '10s', 'collectInterval')
    if (this.intervalMs <= 0) throw new RangeError('collectInterval must be greater than 0')
    const maxSeries = options.maxSeriesPerMetric ?? 1000
    if (!Number.isInteger(maxSeries) || maxSeries < 1) {
      throw new RangeError(`maxSeriesPerMetric must be an integer >= 1; received ${maxSeries}`)
    }
    this.warn = options.onWarning ?? ((m) => process.emitWarning(m, { code: 'HOTPATH_METRICS' }))
    this.guard = new CardinalityGuard(maxSeries, this.warn)
    const samples = options.operations?.samples ?? 1024
    const maxOps = options.operations?.maxOperations ?? 500
    if (!Number.isInteger(samples) || samples < 1)
      throw new RangeError(`operations.samples must be an integer >= 1; received ${samples}`)
    if (!Number.isInteger(maxOps) || maxOps < 1) {
      throw new RangeError(`operations.maxOperations must be an integer >= 1; received ${maxOps}`)
    }
    this.ops = new OperationStatsTable(samples, maxOps)
    const buckets = options.latencyBuckets ?? DEFAULT_BUCKETS
    if (
      !Array.isArray(buckets) ||
      buckets.length === 0 ||
      buckets.some((b, i) => !(b > 0) || (i > 0 && b <= (buckets[i - 1] as number)))
    ) {
      throw new RangeError('latencyBuckets must be increasing positive numbers of seconds')
    }
    this.opHistogram = new Histogram({
      name: `${this.prefix}operation_duration_seconds`,
      help: 'Duration of measured operations',
      labelNames: ['operation'],
      buckets,
      registers: [this.registry],
    })
    this.opErrors = new Counter({
      name: `${this.prefix}operation_errors_total`,
      help: 'Measured operations that threw',
      labelNames: ['operation'],
      registers: [this.registry],
    })
    this.alertManager = new AlertManager(this.clock, this.warn)
    for (const [i, r] of (options.alerts ?? []).entries()) this.alertManager.add(r, i)
    this.healthRegistry = new HealthRegistry(this.clock)
    for (const c of options.healthChecks ?? []) this.healthRegistry.add(c)
    const rec = options.recommendations ?? {}
    for (const r of rec.rules ?? [])
      if (typeof r !== 'function') throw new TypeError('recommendations.rules must be functions')
    this.recRules = [...(rec.builtIn === false ? [] : builtInRules), ...(rec.rules ?? [])]
    this.startedAt = this.clock.now()
    if (options.eventLoop !== undefined && !(options.eventLoop instanceof EventLoopSampler)) {
      throw new TypeError('eventLoop must be an event-loop sampler (createEventLoopSampler())')
    }
    this.eventLoop = options.eventLoop ?? new EventLoopSampler()
    if (options.runtime !== false)
      this.runtime = new RuntimeCollector(this.registry, this.prefix, this.eventLoop)
    if (this.enabled) this.start()
  }

  // --- metric helpers ---------------------------------------------------------------------

  private metric<M extends Counter<string> | Gauge<string> | Histogram<string>>(
    name: string,
    make: () => M,
  ): M {
    let m = this.metricsCache.get(name)
    if (m === undefined) {
      m = (this.registry.getSingleMetric(name) as M | undefined) ?? make()
      this.metricsCache.set(name, m)
    }
    return m as M
  }

  /** A counter (created once, cardinality-guarded). */
  counter(name: string, help: string, labelNames: string[] = []) {
    const c = this.metric(name, () => new Counter({ name, help, labelNames, registers: [this.registry] }))
    return {
      inc: (labels?: Labels, n = 1) => {
        const l = this.guard.admit(name, labels, labelNames)
        if (l === undefined) c.inc(n)
        else c.inc(l, n)
      },
    }
  }

  /** A gauge (created once, cardinality-guarded). */
  gauge(name: string, help: string, labelNames: string[] = []) {
    const g = this.metric(name, () => new Gauge({ name, help, labelNames, registers: [this.registry] }))
    return {
      set: (labels: Labels | undefined, v: number) => {
        const l = this.guard.admit(name, labels, labelNames)
        if (l === undefined) g.set(v)
        else g.set(l, v)
      },
      /** Removes a series (a detached component's), freeing its place under the cardinality cap. */
      remove: (labels: Labels) => {
        if (this.guard.forget(name, labels, labelNames)) g.remove(labels as Record<string, string>)
      },
    }
  }

  /** A histogram in seconds (created once, cardinality-guarded). */
  histogram(name: string, help: string, labelNames: string[] = [], buckets: number[] = DEFAULT_BUCKETS) {
    const h = this.metric(
      name,
      () => new Histogram({ name, help, labelNames, buckets, registers: [this.registry] }),
    )
    return {
      observe: (labels: Labels | undefined, seconds: number) => {
        const l = this.guard.admit(name, labels, labelNames)
        if (l === undefined) h.observe(seconds)
        else h.observe(l, seconds)
      },
    }
  }

  /**
   * A histogram in seconds for hot paths: `bind(labels)` once per label set (cardinality-guarded
   * then), and each `observe` on the bound series costs no label hashing. Every caller on this
   * monitor shares its series. The buckets are fixed by the first caller.
   */
  boundHistogram(name: string, help: string, labelNames: string[], buckets: number[] = DEFAULT_BUCKETS) {
    let h = this.bound.get(name)
    if (h === undefined) {
      h = new BoundHistogram(
        name,
        labelNames,
        buckets,
        (labels) => this.guard.admit(name, labels, labelNames),
        liveMetric(this.registry, name, help, 'histogram'),
      )
      this.bound.set(name, h)
    }
    return h
  }

  /** A gauge without labels moved by deltas (`add(1)`, `add(-1)`); shared by every caller on this monitor. */
  liveGauge(name: string, help: string): LiveGauge {
    let g = this.liveGauges.get(name)
    if (g === undefined) {
      g = new LiveGauge(liveMetric(this.registry, name, help, 'gauge'))
      this.liveGauges.set(name, g)
    }
    return g
  }

  private op(name: string): OpHandle {
    let h = this.opHandles.get(name)
    if (h === undefined) {
      const key = `${this.prefix}operation_duration_seconds`
      const labels = this.guard.admit(key, { operation: name }, ['operation']) as Labels
      const op = String(labels.operation)
      h = { child: this.opHistogram.labels(op), errors: this.opErrors.labels(op) }
      // overflowed names share one handle, but the table of handles itself stays bounded
      if (this.opHandles.size < 10_000) this.opHandles.set(name, h)
    }
    return h
  }

  /**
   * Runs `fn` and records its duration and outcome under `name` (histogram, error counter and
   * the JSON per-operation stats). Works for sync and async functions; returns what `fn` does.
   */
  measure<T>(name: string, fn: () => T): T {
    const h = this.op(name)
    const start = performance.now()
    let r: T
    try {
      r = fn()
    } catch (err) {
      this.finish(name, h, start, true)
      throw err
    }
    if (r instanceof Promise) {
      return r.then(
        (v) => {
          this.finish(name, h, start, false)
          return v
        },
        (e: unknown) => {
          this.finish(name, h, start, true)
          throw e
        },
      ) as T
    }
    this.finish(name, h, start, false)
    return r
  }

  private finish(name: string, h: OpHandle, start: number, failed: boolean): void {
    const ms = performance.now() - start
    h.child.observe(ms / 1000)
    if (failed) h.errors.inc()
    this.ops.record(name, ms, failed)
  }

  /** Starts a timer for `name`; call the result when done (pass true if it failed). Returns seconds. */
  timer(name: string): (failed?: boolean) => number {
    const h = this.op(name)
    const start = performance.now()
    return (failed = false) => {
      this.finish(name, h, start, failed)
      return (performance.now() - start) / 1000
    }
  }

  // --- components -------------------------------------------------------------------------

  /** Adds (or replaces) the adapter for a component kind. */
  registerAdapter(kind: string, adapter: Adapter): void {
    if (typeof kind !== 'string' || typeof adapter !== 'function') {
      throw new TypeError('registerAdapter(kind, adapter) needs a string and a function')
    }
    this.adapters.set(kind, adapter)
  }

  /** Starts exporting a component's events and stats (caches, policies, pools...). */
  attach(source: Instrumentable): Disposer {
    if (
      source === null ||
      typeof source !== 'object' ||
      typeof source.on !== 'function' ||
      typeof source.stats !== 'function'
    ) {
      throw new TypeError('attach() needs a component with kind, name, on() and stats()')
    }
    this.attached.get(source)?.dispose()
    const adapter = this.adapters.get(source.kind) ?? genericAdapter
    const ctx: AdapterContext = {
      prefix: this.prefix,
      counter: (n, help, labels) => this.counter(n, help, labels),
      gauge: (n, help, labels) => this.gauge(n, help, labels),
      histogram: (n, help, labels, buckets) => this.histogram(n, help, labels, buckets),
      live: (n, help, type) => liveMetric(this.registry, n, help, type),
    }
    const attachment = adapter(source, ctx)
    this.attached.set(source, attachment)
    return () => {
      if (this.attached.get(source) === attachment) {
        attachment.dispose()
        this.attached.delete(source)
      }
    }
  }

  // --- collection, alerts, health, advice -------------------------------------------------

  /** Starts the collection timer (done by the constructor when enabled). */
  start(): void {
    if (this.loopTimer !== undefined) return
    this.runtime?.start()
    const tick = () => {
      this.loopTimer = this.clock.setBackgroundTimeout(tick, this.intervalMs)
      try {
        this.collect()
      } catch (err) {
        this.warn(`monitor collection failed: ${String(err)}`)
      }
    }
    this.loopTimer = this.clock.setBackgroundTimeout(tick, this.intervalMs)
  }

  /** Stops timers and samplers. */
  stop(): void {
    if (this.loopTimer !== undefined) this.clock.clearTimeout(this.loopTimer)
    this.loopTimer = undefined
    this.runtime?.stop()
  }

  /** Detaches every component and stops. */
  close(): void {
    this.stop()
    for (const a of this.attached.values()) a.dispose()
    this.attached.clear()
  }

  /** Reads runtime and component stats into metrics, evaluates alerts, returns the snapshot. */
  collect(): MonitorSnapshot {
    this.lastRuntime = this.runtime?.collect() ?? null
    for (const a of this.attached.values()) {
      try {
        a.collect()
      } catch (err) {
        this.warn(`collecting a component failed: ${String(err)}`)
      }
    }
    const snap = this.snapshot()
    this.alertManager.evaluate(snap as unknown as Record<string, unknown>)
    return snap
  }

  /** The JSON snapshot (no collection; runtime figures are from the last collection). */
  snapshot(): MonitorSnapshot {
    const components: MonitorSnapshot['components'] = []
    for (const source of this.attached.keys()) {
      let stats: Record<string, unknown> = {}
      try {
        stats = source.stats() as Record<string, unknown>
      } catch {
        stats = { error: 'stats() threw' }
      }
      components.push({ kind: source.kind, name: source.name, stats })
    }
    return {
      timestamp: new Date(this.clock.now()).toISOString(),
      uptimeSeconds: (this.clock.now() - this.startedAt) / 1000,
      runtime: this.lastRuntime ?? this.runtime?.last() ?? null,
      operations: this.ops.snapshot(),
      components,
      alerts: this.alertManager.status(),
      cardinality: { droppedSeries: Object.fromEntries(this.guard.dropped) },
    }
  }

  /** Adds an alert rule (validated; throws naming the bad field). */
  addAlert(rule: AlertRule): void {
    this.alertManager.add(rule)
  }

  /** Evaluates alerts now against a fresh snapshot. */
  evaluateAlerts(): AlertStatus[] {
    this.alertManager.evaluate(this.snapshot() as unknown as Record<string, unknown>)
    return this.alertManager.status()
  }

  /** The state of every alert rule. */
  alerts(): AlertStatus[] {
    return this.alertManager.status()
  }

  /** Adds a health check. */
  addHealthCheck(check: HealthCheck): void {
    this.healthRegistry.add(check)
  }

  /** Removes the health check called `name`; false if there was none. */
  removeHealthCheck(name: string): boolean {
    return this.healthRegistry.remove(name)
  }

  /** Runs the health checks of `kind` (all when omitted). */
  health(kind?: 'liveness' | 'readiness'): Promise<HealthReport> {
    return this.healthRegistry.report(kind)
  }

  /** Advice from the rules, with evidence. A rule that throws is skipped with a warning. */
  recommendations(): Recommendation[] {
    const snapshot = this.snapshot()
    const runtime = snapshot.runtime ?? this.runtime?.collect()
    const ctx = {
      snapshot: { ...snapshot, runtime: runtime as RuntimeSnapshot },
      heapHistory: this.runtime?.heapHistory ?? [],
      previous: this.previousStats,
    }
    const out: Recommendation[] = []
    for (const rule of this.recRules) {
      try {
        const r = rule(ctx as Parameters<RecommendationRule>[0])
        if (Array.isArray(r)) out.push(...r)
        else if (r !== undefined) out.push(r)
      } catch (err) {
        this.warn(`a recommendation rule threw: ${String(err)}`)
      }
    }
    for (const c of snapshot.components) this.previousStats.set(`${c.kind}:${c.name}`, c.stats)
    return out
  }

  /** The Prometheus content type. */
  get contentType(): string {
    return this.registry.contentType
  }

  /**
   * Prometheus text of the whole registry. Formats series by series and yields to the event
   * loop after each millisecond of work, so a large registry does not stall requests while it is
   * scraped (the same text as prom-client's `registry.metrics()`).
   */
  async metrics(): Promise<string> {
    if (!canStream(this.registry)) return this.registry.metrics()
    return exposition(this.registry, 0.5)
  }
}

/** Creates a monitor. */
export function createMonitor(options: MonitorOptions = {}): Monitor {
  return new Monitor(options)
}
