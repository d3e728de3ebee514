/**
 * Alert rules over any value of the monitor: a snapshot path ('runtime.eventLoop.delayP99Ms'),
 * a function of the snapshot, the per-second rate of a path, or a ratio of two paths. A rule
 * becomes pending when its condition holds, fires once it has held for `for`, stays firing for
 * `keepFiringFor` after the condition clears, then resolves. Notifications (callbacks and webhook
 * POSTs, retried with backoff) are spaced by `cooldown`; they never block the event loop and a
 * failing one never breaks the monitor.
 */
import { type Clock, type Duration, toMs } from '../time.js'

/** Where a rule's value comes from. */
export type AlertValue =
  | string
  | ((snapshot: Record<string, unknown>) => number | undefined)
  | { rate: string }
  | { ratio: [string, string] }

/** One alert rule. */
export interface AlertRule {
  /** Unique name. */
  name: string
  /** The value watched. */
  value: AlertValue
  /** Fire when the value is above (`>`, `>=`) or below (`<`, `<=`) the threshold. */
  op: '>' | '>=' | '<' | '<='
  threshold: number
  /** How long the condition must hold before firing. @default 0 */
  for?: Duration
  /** How long it keeps firing after the condition clears. @default 0 */
  keepFiringFor?: Duration
  /**
   * Least time between two firing notifications of this rule; while it keeps firing, a reminder
   * goes out once per cooldown. 0: notify every fire, no reminders. @default '5m'
   */
  cooldown?: Duration
  /** @default 'warning' */
  severity?: 'info' | 'warning' | 'critical'
  /** Free text for notifications. */
  summary?: string
  /** Called when the alert fires. */
  onFire?: (alert: AlertEvent) => void | Promise<void>
  /** Called when the alert resolves. */
  onResolve?: (alert: AlertEvent) => void | Promise<void>
  /** POSTs the alert event as JSON to this URL on fire and resolve. */
  webhook?: string
}

/** What notifications carry. */
export interface AlertEvent {
  name: string
  state: 'firing' | 'resolved'
  severity: 'info' | 'warning' | 'critical'
  value: number | undefined
  threshold: number
  op: string
  since: number
  at: number
  summary: string | undefined
}

/** The state of one rule. */
export interface AlertStatus {
  name: string
  state: 'inactive' | 'pending' | 'firing'
  severity: 'info' | 'warning' | 'critical'
  value: number | undefined
  since: number | undefined
  lastNotifiedAt: number | undefined
  notifications: number
  notificationErrors: number
}

interface Resolved {
  rule: AlertRule
  forMs: number
  keepMs: number
  cooldownMs: number
  severity: 'info' | 'warning' | 'critical'
  state: 'inactive' | 'pending' | 'firing'
  since: number | undefined
  clearedAt: number | undefined
  lastNotified: number | undefined
  lastValue: number | undefined
  prevRaw: { at: number; v: number } | undefined
  notifications: number
  notificationErrors: number
}

const OPS = new Set(['>', '>=', '<', '<='])

/** Reads a dot path ('a.b.c', keys may contain dots when quoted with [..]) from an object. */
export function readPath(obj: unknown, path: string): number | undefined {
  let cur: unknown = obj
  for (const part of path.match(/\[[^\]]+\]|[^.[\]]+/g) ?? []) {
    if (cur === null || typeof cur !== 'object') return undefined
    const key = part.startsWith('[') ? part.slice(1, -1) : part
    cur = (cur as Record<string, unknown>)[key]
  }
  return typeof cur === 'number' && Number.isFinite(cur) ? cur : undefined
}

/** Validates a rule, naming the bad field. */
export function validateRule(rule: AlertRule, index: number): void {
  const where = `alerts[${index}]${typeof rule?.name === 'string' ? ` ("${rule.name}")` : ''}`
  if (rule === null || typeof rule !== 'object') throw new TypeError(`${where} must be an object`)
  if (typeof rule.name !== 'string' || rule.name.length === 0)
    throw new TypeError(`${where}.name must be a non-empty string`)
  const v = rule.value as unknown
  const okValue =
    typeof v === 'string' ||
    typeof v === 'function' ||
    (typeof v === 'object' &&
      v !== null &&
      (typeof (v as { rate?: unknown }).rate === 'string' || Array.isArray((v as { ratio?: unknown }).ratio)))
  if (!okValue)
    throw new TypeError(
      `${where}.value must be a snapshot path, a function, { rate: path } or { ratio: [a, b] }`,
    )
  if (!OPS.has(rule.op))
    throw new TypeError(`${where}.op must be one of > >= < <=; received ${String(rule.op)}`)
  if (typeof rule.threshold !== 'number' || !Number.isFinite(rule.threshold)) {
    throw new TypeError(`${where}.threshold must be a finite number; received ${String(rule.threshold)}`)
  }
  for (const f of ['for', 'keepFiringFor', 'cooldown'] as const)
    if (rule[f] !== undefined) toMs(rule[f], `${where}.${f}`)
  if (rule.severity !== undefined && !['info', 'warning', 'critical'].includes(rule.severity)) {
    throw new TypeError(
      `${where}.severity must be info, warning or critical; received ${String(rule.severity)}`,
    )
  }
  if (rule.webhook !== undefined) {
    try {
      const u = new URL(rule.webhook)
      if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('protocol')
    } catch {
      throw new TypeError(`${where}.webhook must be an http(s) URL; received ${JSON.stringify(rule.webhook)}`)
    }
  }
  for (const f of ['onFire', 'onResolve'] as const) {
    if (rule[f] !== undefined && typeof rule[f] !== 'function')
      throw new TypeError(`${where}.${f} must be a function`)
  }
}

/** Evaluates alert rules. */
export class AlertManager {
  private readonly rules = new Map<string, Resolved>()

  constructor(
    private readonly clock: Clock,
    private readonly onError: (message: string) => void,
    private readonly webhookRetries = 3,
  ) {}

  /** Adds a rule (validated); a rule of the same name is replaced. */
  add(rule: AlertRule, index = this.rules.size): void {
    validateRule(rule, index)
    this.rules.set(rule.name, {
      rule,
      forMs: toMs(rule.for ?? 0, 'for'),
      keepMs: toMs(rule.keepFiringFor ?? 0, 'keepFiringFor'),
      cooldownMs: toMs(rule.cooldown ?? '5m', 'cooldown'),
      severity: rule.severity ?? 'warning',
      state: 'inactive',
      since: undefined,
      clearedAt: undefined,
      lastNotified: undefined,
      lastValue: undefined,
      prevRaw: undefined,
      notifications: 0,
      notificationErrors: 0,
    })
  }

  /** Removes a rule. */
  remove(name: string): boolean {
    return this.rules.delete(name)
  }

  private valueOf(r: Resolved, snapshot: Record<string, unknown>, now: number): number | undefined {
    const v = r.rule.value
    if (typeof v === 'string') return readPath(snapshot, v)
    if (typeof v === 'function') {
      try {
        const x = v(snapshot)
        return typeof x === 'number' && Number.isFinite(x) ? x : undefined
      } catch {
        return undefined
      }
    }
    if ('rate' in v) {
      const raw = readPath(snapshot, v.rate)
      if (raw === undefined) return undefined
      const prev = r.prevRaw
      r.prevRaw = { at: now, v: raw }
      if (prev === undefined || now <= prev.at) return undefined
      return ((raw - prev.v) * 1000) / (now - prev.at)
    }
    const a = readPath(snapshot, v.ratio[0])
    const b = readPath(snapshot, v.ratio[1])
    if (a === undefined || b === undefined || b === 0) return undefined
    return a / b
  }

  /** Evaluates every rule against `snapshot`. */
  evaluate(snapshot: Record<string, unknown>): void {
    const now = this.clock.now()
    for (const r of this.rules.values()) {
      const value = this.valueOf(r, snapshot, now)
      r.lastValue = value
      const t = r.rule.threshold
      const op = r.rule.op
      const holds =
        value !== undefined &&
        (op === '>' ? value > t : op === '>=' ? value >= t : op === '<' ? value < t : value <= t)
      if (holds) {
        r.clearedAt = undefined
        if (r.state === 'inactive') {
          r.state = 'pending'
          r.since = now
        }
        if (r.state === 'pending' && now - (r.since as number) >= r.forMs) {
          r.state = 'firing'
          this.notify(r, 'firing', now)
        } else if (
          r.state === 'firing' &&
          r.cooldownMs > 0 &&
          r.lastNotified !== undefined &&
          now - r.lastNotified >= r.cooldownMs
        ) {
          // still firing after the cooldown: remind
          this.notify(r, 'firing', now)
        }
      } else if (r.state === 'pending') {
        r.state = 'inactive'
        r.since = undefined
      } else if (r.state === 'firing') {
        if (r.clearedAt === undefined) r.clearedAt = now
        if (now - r.clearedAt >= r.keepMs) {
          r.state = 'inactive'
          this.notify(r, 'resolved', now)
          r.since = undefined
          r.clearedAt = undefined
        }
      }
    }
  }

  private notify(r: Resolved, state: 'firing' | 'resolved', now: number): void {
    if (state === 'firing' && r.lastNotified !== undefined && now - r.lastNotified < r.cooldownMs) return
    if (state === 'firing') r.lastNotified = now
    r.notifications++
    const event: AlertEvent = {
      name: r.rule.name,
      state,
      severity: r.severity,
      value: r.lastValue,
      threshold: r.rule.threshold,
      op: r.rule.op,
      since: r.since ?? now,
      at: now,
      summary: r.rule.summary,
    }
    const cb = state === 'firing' ? r.rule.onFire : r.rule.onResolve
    if (cb !== undefined) {
      queueMicrotask(() => {
        try {
          const p = cb(event)
          if (p instanceof Promise)
            p.catch((e: unknown) => this.fail(r, `alert "${r.rule.name}" callback failed: ${String(e)}`))
        } catch (e) {
          this.fail(r, `alert "${r.rule.name}" callback threw: ${String(e)}`)
        }
      })
    }
    if (r.rule.webhook !== undefined) void this.post(r, r.rule.webhook, event)
  }

  private fail(r: Resolved, message: string): void {
    r.notificationErrors++
    this.onError(message)
  }

  private async post(r: Resolved, url: string, event: AlertEvent): Promise<void> {
    let delay = 200
    for (let attempt = 1; attempt <= this.webhookRetries + 1; attempt++) {
      try {
        const res = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(event),
          signal: AbortSignal.timeout(5000),
        })
        if (res.ok) return
        await res.body?.cancel()
        if (res.status < 500 && res.status !== 429) break
      } catch {
        // network error: retry
      }
      if (attempt <= this.webhookRetries) {
        await new Promise<void>((resolve) => this.clock.setBackgroundTimeout(resolve, delay))
        delay *= 2
      }
    }
    this.fail(r, `alert "${r.rule.name}" webhook ${url} failed after ${this.webhookRetries + 1} attempts`)
  }

  /** The state of every rule. */
  status(): AlertStatus[] {
    return [...this.rules.values()].map((r) => ({
      name: r.rule.name,
      state: r.state,
      severity: r.severity,
      value: r.lastValue,
      since: r.since,
      lastNotifiedAt: r.lastNotified,
      notifications: r.notifications,
      notificationErrors: r.notificationErrors,
    }))
  }
}
