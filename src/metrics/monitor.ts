/**
 * createMonitor(): one monitor every other part reports into. Built on a prom-client registry
 * (its own, or one you pass): helpers for counters, gauges and histograms behind a cardinality
 * guard, `measure()` and timers, per-operation stats, runtime metrics, adapters for attached
 * components, alert rules, health checks, recommendations, a JSON snapshot and Prometheus text.
 * This file checks the options and runs the collection loop, the snapshot, the alerts, health
 * checks and recommendations; the metric helpers and operation timing are in instruments.ts, the
 * attached components in components.ts.
 */
import { Registry } from 'prom-client'
import type { Disposer } from '../events.js'
import { assertKnownKeys } from '../options.js'
import { type Clock, systemClock, toMs } from '../time.js'
import type { Instrumentable, MonitorLike } from '../types.js'
import type { Adapter, AdapterContext } from './adapters.js'
import { AlertManager, type AlertRule, type AlertStatus } from './alerts.js'
import type { BoundHistogram, LiveGauge } from './bound.js'
import { Components } from './components.js'
import { EventLoopSampler } from './event-loop.js'
import { canStream, exposition } from './exposition.js'
import { type HealthCheck, HealthRegistry, type HealthReport } from './health.js'
import { type CounterHandle, type GaugeHandle, type HistogramHandle, Instruments } from './instruments.js'
import { liveMetric } from './live-metric.js'
import { envOptions, KNOWN_OPTIONS, type MonitorOptions, type MonitorSnapshot } from './monitor-options.js'
import { builtInRules, type Recommendation, type RecommendationRule } from './recommendations.js'
import { RuntimeCollector, type RuntimeSnapshot } from './runtime.js'

/** The monitor. */
export class Monitor implements MonitorLike {
  readonly registry: Registry
  readonly prefix: string
  /** The one event-loop sampler: runtime metrics read it, and so can load shedding. */
  readonly eventLoop: EventLoopSampler
  private readonly clock: Clock
  private readonly instruments: Instruments
  private readonly components: Components
  private readonly runtime: RuntimeCollector | undefined
  private readonly alertManager: AlertManager
  private readonly healthRegistry: HealthRegistry
  private readonly recRules: RecommendationRule[]
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
    this.warn = options.onWarning ?? ((m) => process.emitWarning(m, { code: 'HOTPATH_METRICS' }))
    this.instruments = new Instruments(this.registry, this.prefix, options, this.warn)
    this.components = new Components(this.warn)
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

  // --- instruments (instruments.ts) ------------------------------------------------------

  /** A counter (created once, cardinality-guarded). */
  counter(name: string, help: string, labelNames?: string[]): CounterHandle {
    return this.instruments.counter(name, help, labelNames)
  }

  /** A gauge (created once, cardinality-guarded). */
  gauge(name: string, help: string, labelNames?: string[]): GaugeHandle {
    return this.instruments.gauge(name, help, labelNames)
  }

  /** A histogram in seconds (created once, cardinality-guarded). */
  histogram(name: string, help: string, labelNames?: string[], buckets?: number[]): HistogramHandle {
    return this.instruments.histogram(name, help, labelNames, buckets)
  }

  /**
   * A histogram in seconds for hot paths: `bind(labels)` once per label set (cardinality-guarded
   * then), and each `observe` on the bound series costs no label hashing. Every caller on this
   * monitor shares its series. The buckets are fixed by the first caller.
   */
  boundHistogram(name: string, help: string, labelNames: string[], buckets?: number[]): BoundHistogram {
    return this.instruments.boundHistogram(name, help, labelNames, buckets)
  }

  /** A gauge without labels moved by deltas (`add(1)`, `add(-1)`); shared by every caller on this monitor. */
  liveGauge(name: string, help: string): LiveGauge {
    return this.instruments.liveGauge(name, help)
  }

  /**
   * Runs `fn` and records its duration and outcome under `name` (histogram, error counter and
   * the JSON per-operation stats). Works for sync and async functions; returns what `fn` does.
   */
  measure<T>(name: string, fn: () => T): T {
    return this.instruments.measure(name, fn)
  }

  /** Starts a timer for `name`; call the result when done (pass true if it failed). Returns seconds. */
  timer(name: string): (failed?: boolean) => number {
    return this.instruments.timer(name)
  }

  // --- components (components.ts) ---------------------------------------------------------

  /** Adds (or replaces) the adapter for a component kind. */
  registerAdapter(kind: string, adapter: Adapter): void {
    this.components.registerAdapter(kind, adapter)
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
    const ctx: AdapterContext = {
      prefix: this.prefix,
      counter: (n, help, labels) => this.counter(n, help, labels),
      gauge: (n, help, labels) => this.gauge(n, help, labels),
      histogram: (n, help, labels, buckets) => this.histogram(n, help, labels, buckets),
      live: (n, help, type) => liveMetric(this.registry, n, help, type),
    }
    return this.components.attach(source, ctx)
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
    this.components.dispose()
  }

  /** Reads runtime and component stats into metrics, evaluates alerts, returns the snapshot. */
  collect(): MonitorSnapshot {
    this.lastRuntime = this.runtime?.collect() ?? null
    this.components.collect()
    const snap = this.snapshot()
    this.alertManager.evaluate(snap as unknown as Record<string, unknown>)
    return snap
  }

  /** The JSON snapshot (no collection; runtime figures are from the last collection). */
  snapshot(): MonitorSnapshot {
    const components = this.components.stats()
    return {
      timestamp: new Date(this.clock.now()).toISOString(),
      uptimeSeconds: (this.clock.now() - this.startedAt) / 1000,
      runtime: this.lastRuntime ?? this.runtime?.last() ?? null,
      operations: this.instruments.ops.snapshot(),
      components,
      alerts: this.alertManager.status(),
      cardinality: { droppedSeries: Object.fromEntries(this.instruments.guard.dropped) },
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
