/**
 * createDashboard(): samples the monitor once per interval into a frame, keeps the frames of the
 * configured window in a ring, streams them to the pages over SSE, and tracks alert transitions
 * and recommendations. With `share`, instances on one Redis exchange frames and the page shows
 * each one and their aggregate. This file decides what happens at each tick and what goes to the
 * pages; the history they start from and the streams themselves are the feed (feed.ts).
 */
import type { ServerResponse } from 'node:http'
import type { Disposer } from '../events.js'
import type { Recommendation } from '../metrics/index.js'
import type { TimerHandle } from '../time.js'
import { aggregate } from './aggregate.js'
import { type DashboardState, Feed, type Hello, type InstanceRecommendations, type Tick } from './feed.js'
import { FrameBuilder } from './frame-builder.js'
import { RemoteInstances } from './instances.js'
import { type DashboardOptions, type ResolvedDashboardOptions, resolveDashboardOptions } from './options.js'
import { checkPanel, checkTable, type DashboardPanel, type DashboardTable, MAX_ROWS } from './panels.js'
import { connectShare, type Share, type ShareMessage } from './share.js'
import type { AlertTransition, Frame, InstanceTable } from './types.js'

export type { DashboardState, Hello, InstanceRecommendations, Tick } from './feed.js'

const MAX_SOURCES = 16
const MAX_FIGURES = 64
const HEARTBEAT_MS = 15_000
const ALERT_POLL_MS = 100

/** The dashboard. */
export class Dashboard {
  /** Resolved options. */
  readonly options: ResolvedDashboardOptions
  private readonly builder: FrameBuilder
  private readonly feed: Feed
  private readonly panels = new Map<string, Readonly<DashboardPanel>>()
  private readonly tableDefs = new Map<string, Readonly<DashboardTable>>()
  private readonly alertStates = new Map<string, string>()
  private readonly remote: RemoteInstances
  /** Instances with rows or alerts here but no frames in the view, and since when (our clock). */
  private readonly outside = new Map<string, number>()
  private ext: Frame['ext'] = {}
  private timer: TimerHandle | undefined
  private alertTimer: TimerHandle | undefined
  private readonly alertPollMs: number
  private ticking = false
  private closed = false
  private lastRecsAt = Number.NEGATIVE_INFINITY
  private lastBeatAt: number
  private share: Share | undefined
  private sharing: Promise<void> | undefined

  constructor(options: DashboardOptions) {
    this.options = resolveDashboardOptions(options)
    const o = this.options
    this.builder = new FrameBuilder(o.monitor, o.instance, o.maxRoutes, () => o.clock.now())
    this.feed = new Feed(o.capacity, o.maxClients)
    this.remote = new RemoteInstances(o.share?.staleAfterMs ?? 0)
    for (const p of o.panels) this.panels.set(p.id, p)
    for (const t of o.tables) this.tableDefs.set(t.id, t)
    this.lastBeatAt = o.clock.now()
    if (o.share !== undefined) {
      this.sharing = connectShare(o.share, (m) => this.onRemote(m)).then((s) => {
        if (this.closed) void s.close()
        else this.share = s
      })
      // a failed connection is reported by ready(); the dashboard keeps working on its own
      this.sharing.catch(() => {})
    }
    this.alertPollMs = Math.min(o.intervalMs, ALERT_POLL_MS)
    this.schedule()
    this.scheduleAlerts()
  }

  /** Resolves when the multi-instance subscription is up (at once without `share`); rejects if it failed. */
  async ready(): Promise<void> {
    await this.sharing
  }

  /** Adds a panel (validated; ids are unique); returns a disposer that removes it. */
  addPanel(panel: DashboardPanel): Disposer {
    const p = checkPanel(panel)
    if (this.panels.has(p.id)) throw new TypeError(`a panel with id "${p.id}" is already on the dashboard`)
    this.panels.set(p.id, p)
    this.feed.hello(this.hello())
    return () => {
      if (this.panels.get(p.id) === p) {
        this.panels.delete(p.id)
        this.feed.hello(this.hello())
      }
    }
  }

  /**
   * Adds a table (slow queries, dead letters...): `rows()` is read at every tick and the page
   * gets the rows when they change. Returns a disposer that removes it.
   */
  addTable(table: DashboardTable): Disposer {
    const t = checkTable(table)
    if (this.tableDefs.has(t.id)) throw new TypeError(`a table with id "${t.id}" is already on the dashboard`)
    this.tableDefs.set(t.id, t)
    this.feed.hello(this.hello())
    return () => {
      if (this.tableDefs.get(t.id) === t) {
        this.tableDefs.delete(t.id)
        this.feed.dropTable(this.options.instance, t.id)
        this.feed.hello(this.hello())
      }
    }
  }

  /**
   * Figures streamed in from outside (a load tester), shown on the same time axis: `source` names
   * the series group, `figures` maps a series name to a number. Kept until the next tick; the
   * last figures of a source in a tick win. Throws TypeError on bad input (nothing is stored).
   */
  ingest(source: string, figures: Record<string, number>): void {
    if (typeof source !== 'string' || !/^[\w.:-]{1,64}$/.test(source)) {
      throw new TypeError(
        `source must be 1-64 letters, digits or . : _ -; received ${JSON.stringify(source)}`,
      )
    }
    if (figures === null || typeof figures !== 'object' || Array.isArray(figures)) {
      throw new TypeError('figures must be an object of series name -> number')
    }
    const entries = Object.entries(figures)
    if (entries.length > MAX_FIGURES) throw new TypeError(`at most ${MAX_FIGURES} figures per source`)
    const clean: Record<string, number> = {}
    for (const [k, v] of entries) {
      if (typeof v !== 'number' || !Number.isFinite(v)) {
        throw new TypeError(
          `figure ${JSON.stringify(k)} must be a finite number; received ${JSON.stringify(v)}`,
        )
      }
      if (k.length > 64) throw new TypeError('figure names are at most 64 characters')
      clean[k] = v
    }
    if (!(source in this.ext) && Object.keys(this.ext).length >= MAX_SOURCES) {
      throw new TypeError(`at most ${MAX_SOURCES} sources per tick`)
    }
    this.ext[source] = clean
  }

  /** What a fresh page needs first. */
  hello(): Hello {
    return {
      version: 1,
      instance: this.options.instance,
      intervalMs: this.options.intervalMs,
      windowMs: this.options.windowMs,
      bounds: this.builder.bounds,
      panels: [...this.panels.values()].map((p) => ({ id: p.id, title: p.title, unit: p.unit ?? '' })),
      tables: [...this.tableDefs.values()].map((t) => ({
        id: t.id,
        title: t.title,
        columns: [...t.columns],
      })),
    }
  }

  /** History, alerts and recommendations; with `after`, only the ticks after that seq. */
  state(after?: number): DashboardState {
    return this.feed.state(this.hello(), after)
  }

  /** Pages streaming now. */
  get clients(): number {
    return this.feed.clients
  }

  /**
   * Streams to `res` (a raw Node response): hello, the history (or what came after
   * `lastEventId`), then every tick. False when `maxClients` pages are already streaming.
   */
  stream(res: ServerResponse, lastEventId?: number): boolean {
    return this.feed.stream(res, this.hello(), lastEventId)
  }

  /** Ends every open stream (pages reconnect by themselves if the server is still there). */
  endStreams(): void {
    this.feed.close()
  }

  /** Builds one tick now (the timer does this every interval). */
  async tick(): Promise<Tick | undefined> {
    if (this.ticking || this.closed) return undefined
    this.ticking = true
    try {
      const o = this.options
      const ext = this.ext
      this.ext = {}
      const own = await this.builder.build([...this.panels.values()], ext)
      if (this.builder.boundsChanged) {
        // the request histogram has other buckets than assumed: the pages need them first
        this.builder.boundsChanged = false
        this.feed.hello(this.hello())
      }
      const now = own.t
      const others = this.remote.gather(now, this.builder.bounds)
      // what an instance that left had on the page leaves with it (the pages are told)
      for (const id of others.left) this.feed.forget(id, now)
      this.forgetOutside(now)
      const frames = [own, ...others.frames]
      const deltas = [own, ...others.deltas]
      const latest = [own, ...others.latest]
      if (latest.length > 1) frames.push(aggregate(deltas, latest, this.builder.bounds, now, own.dt, own.seq))
      // tables first: a page that sees this tick has the rows sampled with it
      await this.sampleTables(now, own.dt)
      const tick: Tick = { seq: own.seq, t: now, frames }
      this.feed.tick(tick)
      this.publish({ type: 'frame', instance: o.instance, data: own })
      this.alerts(now)
      if (now - this.lastRecsAt >= o.recommendationsMs) {
        this.lastRecsAt = now
        this.recommend(now)
      }
      if (now - this.lastBeatAt >= HEARTBEAT_MS) {
        this.lastBeatAt = now
        this.feed.heartbeat()
      }
      return tick
    } finally {
      this.ticking = false
    }
  }

  // alert states change only when the monitor evaluates: look often (cheap) so a transition
  // reaches the page right after that evaluation, not up to a whole frame interval later
  private scheduleAlerts(): void {
    if (this.closed) return
    this.alertTimer = this.options.clock.setBackgroundTimeout(() => {
      try {
        this.alerts(this.options.clock.now())
      } finally {
        this.scheduleAlerts()
      }
    }, this.alertPollMs)
  }

  private schedule(): void {
    if (this.closed) return
    this.timer = this.options.clock.setBackgroundTimeout(() => {
      this.tick().then(
        () => this.schedule(),
        (err: unknown) => {
          process.emitWarning(`dashboard tick failed: ${String(err)}`, { code: 'HOTPATH_DASHBOARD' })
          this.schedule()
        },
      )
    }, this.options.intervalMs)
  }

  private alerts(now: number): void {
    for (const a of this.options.monitor.alerts()) {
      const before = this.alertStates.get(a.name) ?? 'inactive'
      this.alertStates.set(a.name, a.state)
      const firing = a.state === 'firing'
      if (firing === (before === 'firing')) continue
      const t: AlertTransition = {
        name: a.name,
        state: firing ? 'firing' : 'resolved',
        severity: a.severity,
        value: a.value,
        at: now,
        instance: this.options.instance,
      }
      this.feed.alert(t)
      this.publish({ type: 'alert', instance: t.instance, data: t })
    }
  }

  private recommend(now: number): void {
    let items: Recommendation[]
    try {
      items = this.options.monitor.recommendations()
    } catch {
      return
    }
    const r: InstanceRecommendations = { instance: this.options.instance, at: now, items }
    this.feed.recommendations(r)
    this.publish({ type: 'recs', instance: r.instance, data: r })
  }

  private async sampleTables(now: number, dt: number): Promise<void> {
    const ctx = { registry: this.options.monitor.registry, dt }
    for (const def of this.tableDefs.values()) {
      let rows: Array<Record<string, string | number>> | undefined
      try {
        rows = await def.rows(ctx)
      } catch {
        continue
      }
      if (!Array.isArray(rows)) continue
      const t: InstanceTable = {
        id: def.id,
        instance: this.options.instance,
        at: now,
        rows: rows.slice(0, MAX_ROWS),
      }
      if (this.feed.table(t, false)) this.publish({ type: 'table', instance: t.instance, data: t })
    }
  }

  /**
   * Table rows and alerts of instances whose frames are not in the view (none ever came, or a
   * message came after the instance left): nothing would ever take them away. They get
   * `staleAfter` for the instance's frames to arrive (a new instance's rows come before its first
   * frame), as a silent instance does, then they are forgotten like an instance that left.
   */
  private forgetOutside(now: number): void {
    const staleAfterMs = this.options.share?.staleAfterMs
    if (staleAfterMs === undefined) return
    const seen = new Set<string>()
    for (const id of this.feed.instances()) {
      if (id === this.options.instance || this.remote.has(id)) continue
      seen.add(id)
      const since = this.outside.get(id)
      if (since === undefined) this.outside.set(id, now)
      else if (now - since > staleAfterMs) {
        this.feed.forget(id, now)
        this.outside.delete(id)
      }
    }
    for (const id of this.outside.keys()) if (!seen.has(id)) this.outside.delete(id)
  }

  private publish(m: ShareMessage): void {
    this.share?.publish(m)
  }

  private onRemote(m: ShareMessage): void {
    if (this.closed || m.instance === this.options.instance) return
    const now = this.options.clock.now()
    if (m.type === 'frame') {
      this.remote.add(m.data, now)
    } else if (m.type === 'alert') this.feed.alert(m.data)
    // recommendations of the instances in the view only (published after their frame): a bound
    // on what is kept whatever is on the channel, and they leave with the instance
    else if (m.type === 'recs') {
      if (this.remote.has(m.instance)) this.feed.recommendations(m.data)
    } else if (m.type === 'table') this.feed.table(m.data)
  }

  /** Stops ticking, ends the streams, leaves Redis. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    if (this.timer !== undefined) this.options.clock.clearTimeout(this.timer)
    if (this.alertTimer !== undefined) this.options.clock.clearTimeout(this.alertTimer)
    this.feed.close()
    this.builder.dispose()
    await this.sharing?.catch(() => {})
    await this.share?.close()
  }
}

/** Creates a dashboard over a monitor. Mount its page with the `dashboardPlugin` Fastify plugin. */
export function createDashboard(options: DashboardOptions): Dashboard {
  return new Dashboard(options)
}
