/**
 * What the pages receive, kept and sent: the history a fresh page starts from (the ticks of the
 * window in a ring, the last alert transitions, the latest recommendations of each instance and
 * the latest rows of each table) and the SSE streams that carry every change live. The dashboard
 * (dashboard.ts) decides what goes in; this file holds it and writes it out.
 */
import type { ServerResponse } from 'node:http'
import type { Recommendation } from '../metrics/index.js'
import { Ring } from './ring.js'
import { format, SseHub } from './sse.js'
import type { AlertTransition, Frame, InstanceTable, PanelInfo, TableInfo } from './types.js'

/** One tick as the page receives it: the frame of every instance heard from, and the aggregate. */
export interface Tick {
  /** This instance's tick number (the SSE event id). */
  seq: number
  t: number
  frames: Frame[]
}

/** The first event of a stream: what the page needs to draw. */
export interface Hello {
  version: 1
  instance: string
  intervalMs: number
  windowMs: number
  /** Latency bucket bounds (seconds) of the `b` arrays. */
  bounds: number[]
  panels: PanelInfo[]
  tables: TableInfo[]
}

/** Recommendations of one instance. */
export interface InstanceRecommendations {
  instance: string
  at: number
  items: Recommendation[]
}

/** Everything a page shows, at once (the history endpoint and the snapshot export). */
export interface DashboardState {
  hello: Hello
  ticks: Tick[]
  alerts: AlertTransition[]
  recommendations: InstanceRecommendations[]
  /** The latest rows of every table, per instance. */
  tables: InstanceTable[]
}

/** A bound on the tables kept (per instance and table), whatever arrives on the share channel. */
const MAX_TABLES = 256

/** The history of one dashboard and the pages streaming it. */
export class Feed {
  private readonly ring: Ring<Tick>
  private readonly alertLog = new Ring<AlertTransition>(200)
  private readonly hub: SseHub
  private readonly tables = new Map<string, InstanceTable & { json: string }>()
  private readonly recs = new Map<string, InstanceRecommendations>()

  /** Keeps the last `capacity` ticks; at most `maxClients` pages stream at once. */
  constructor(capacity: number, maxClients: number) {
    this.ring = new Ring<Tick>(capacity)
    this.hub = new SseHub(maxClients)
  }

  /** Pages streaming now. */
  get clients(): number {
    return this.hub.size
  }

  /** Sends a new hello (panels, tables or bounds changed): the pages redraw from it. */
  hello(hello: Hello): void {
    this.hub.send('hello', JSON.stringify(hello))
  }

  /** Keeps and sends a tick. */
  tick(tick: Tick): void {
    this.ring.push(tick)
    this.hub.send('tick', JSON.stringify(tick), tick.seq)
  }

  /** Keeps and sends an alert transition. */
  alert(t: AlertTransition): void {
    this.alertLog.push(t)
    this.hub.send('alert', JSON.stringify(t))
  }

  /** Keeps and sends an instance's recommendations (replacing its previous ones). */
  recommendations(r: InstanceRecommendations): void {
    this.recs.set(r.instance, r)
    this.hub.send('recs', JSON.stringify(r))
  }

  /**
   * Keeps and sends a table's rows when they changed; true if they did. `bounded`: a table from
   * the share channel, refused past MAX_TABLES (this instance's own tables never are: tables of
   * others filling the bound kept them off the page).
   */
  table(t: InstanceTable, bounded = true): boolean {
    const key = tableKey(t.instance, t.id)
    const json = JSON.stringify(t.rows)
    if (this.tables.get(key)?.json === json) return false
    // a bound on memory whatever is on the channel
    if (bounded && !this.tables.has(key) && this.tables.size >= MAX_TABLES) return false
    this.tables.set(key, { ...t, json })
    this.hub.send('table', JSON.stringify(t))
    return true
  }

  /**
   * Forgets the recommendations and table rows of an instance that left the view, and tells the
   * pages (no recommendations, no rows for it). Its alerts still firing are resolved (at `at`,
   * with no value): nothing would ever resolve them, and the pages would show them firing.
   */
  forget(instance: string, at: number): void {
    if (this.recs.delete(instance)) this.hub.send('recs', JSON.stringify({ instance, at, items: [] }))
    for (const a of this.firing())
      if (a.instance === instance)
        this.alert({ name: a.name, state: 'resolved', severity: a.severity, value: undefined, at, instance })
    for (const [key, t] of this.tables) {
      if (t.instance !== instance) continue
      this.tables.delete(key)
      this.hub.send('table', JSON.stringify({ id: t.id, instance, at, rows: [] }))
    }
  }

  /** The instances that have table rows or alerts still firing here. */
  instances(): Set<string> {
    const out = new Set<string>()
    for (const t of this.tables.values()) out.add(t.instance)
    for (const a of this.firing()) out.add(a.instance)
    return out
  }

  /** The alerts whose last transition in the log is `firing`, of every instance. */
  private firing(): AlertTransition[] {
    const last = new Map<string, AlertTransition>()
    for (const a of this.alertLog.toArray()) last.set(`${a.instance}\u0000${a.name}`, a)
    return [...last.values()].filter((a) => a.state === 'firing')
  }

  /** Forgets the rows of a table that was removed. */
  dropTable(instance: string, id: string): void {
    this.tables.delete(tableKey(instance, id))
  }

  /**
   * History, alerts and recommendations under `hello`; with `after`, only the ticks after that
   * seq. An `after` beyond the newest tick held is another process's (a page reconnecting after a
   * restart): it gets the whole history (it got none, and lost the new process's first ticks).
   */
  state(hello: Hello, after?: number): DashboardState {
    const newest = this.ring.last()?.seq ?? 0
    const since = after !== undefined && after <= newest ? after : undefined
    return {
      hello,
      ticks: this.ring.toArray(since === undefined ? undefined : (t) => t.seq > since),
      alerts: this.alertLog.toArray(),
      recommendations: [...this.recs.values()],
      tables: [...this.tables.values()].map(({ json: _json, ...t }) => t),
    }
  }

  /**
   * Streams to `res`: `hello`, the history (or what came after `lastEventId`), then every event.
   * False when the pages streaming already number `maxClients`.
   */
  stream(res: ServerResponse, hello: Hello, lastEventId?: number): boolean {
    const s = this.state(hello, lastEventId)
    const first =
      format('hello', JSON.stringify(s.hello)) +
      format(
        'history',
        JSON.stringify({
          ticks: s.ticks,
          alerts: s.alerts,
          recommendations: s.recommendations,
          tables: s.tables,
        }),
      )
    return this.hub.open(res, first)
  }

  /** A comment line that keeps idle streams open through proxies. */
  heartbeat(): void {
    this.hub.heartbeat()
  }

  /** Ends every open stream. */
  close(): void {
    this.hub.close()
  }
}

function tableKey(instance: string, id: string): string {
  return `${instance}\u0000${id}`
}
