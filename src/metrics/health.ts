/**
 * Health checks: per-component checks with timeouts (a check that hangs counts as failed once
 * its timeout passes), grouped into liveness (is the process able to work at all) and readiness
 * (should it receive traffic). Overall status: healthy, degraded (a non-critical check failed)
 * or unhealthy (a critical one failed), with the reasons.
 */
import { type Clock, type Duration, toMs } from '../time.js'

/** What a check may return: true/false, or a status with details. */
export type CheckResult =
  | boolean
  | { status: 'healthy' | 'degraded' | 'unhealthy'; details?: Record<string, unknown> }

/** One health check. */
export interface HealthCheck {
  /** Component name. */
  name: string
  /** The check. Throwing or timing out counts as unhealthy. */
  check: (signal: AbortSignal) => CheckResult | Promise<CheckResult>
  /** @default '2s' */
  timeout?: Duration
  /** A failing critical check makes the whole status unhealthy; others make it degraded. @default true */
  critical?: boolean
  /** Which probe runs it. @default 'readiness' */
  kind?: 'liveness' | 'readiness'
}

/** A component's result. */
export interface ComponentHealth {
  name: string
  status: 'healthy' | 'degraded' | 'unhealthy'
  critical: boolean
  durationMs: number
  error?: string
  details?: Record<string, unknown>
}

/** The overall result. */
export interface HealthReport {
  status: 'healthy' | 'degraded' | 'unhealthy'
  checkedAt: string
  reasons: string[]
  components: ComponentHealth[]
}

/** Validates a check, naming the bad field. */
export function validateCheck(c: HealthCheck): void {
  if (c === null || typeof c !== 'object') throw new TypeError('a health check must be an object')
  if (typeof c.name !== 'string' || c.name.length === 0)
    throw new TypeError('health check name must be a non-empty string')
  if (typeof c.check !== 'function') throw new TypeError(`health check "${c.name}": check must be a function`)
  if (c.timeout !== undefined) toMs(c.timeout, `health check "${c.name}" timeout`)
  if (c.kind !== undefined && c.kind !== 'liveness' && c.kind !== 'readiness') {
    throw new TypeError(
      `health check "${c.name}": kind must be 'liveness' or 'readiness'; received ${String(c.kind)}`,
    )
  }
}

/** Runs health checks. */
export class HealthRegistry {
  private readonly checks = new Map<string, HealthCheck>()
  constructor(private readonly clock: Clock) {}

  /** Adds (or replaces) a check. */
  add(check: HealthCheck): void {
    validateCheck(check)
    this.checks.set(check.name, check)
  }

  /** Removes a check. */
  remove(name: string): boolean {
    return this.checks.delete(name)
  }

  private run(c: HealthCheck): Promise<ComponentHealth> {
    const critical = c.critical ?? true
    const timeout = toMs(c.timeout ?? '2s', 'timeout')
    const start = this.clock.now()
    const ac = new AbortController()
    return new Promise<ComponentHealth>((resolve) => {
      let done = false
      const finish = (h: Omit<ComponentHealth, 'name' | 'critical' | 'durationMs'>) => {
        if (done) return
        done = true
        this.clock.clearTimeout(timer)
        resolve({ name: c.name, critical, durationMs: this.clock.now() - start, ...h })
      }
      const timer = this.clock.setTimeout(() => {
        ac.abort()
        finish({ status: 'unhealthy', error: `no answer within ${timeout}ms` })
      }, timeout)
      Promise.resolve()
        .then(() => c.check(ac.signal))
        .then(
          (r) => {
            if (r === true) finish({ status: 'healthy' })
            else if (r === false) finish({ status: 'unhealthy', error: 'check returned false' })
            else if (
              r !== null &&
              typeof r === 'object' &&
              ['healthy', 'degraded', 'unhealthy'].includes(r.status)
            ) {
              finish(
                r.details === undefined ? { status: r.status } : { status: r.status, details: r.details },
              )
            } else finish({ status: 'unhealthy', error: `check returned ${JSON.stringify(r)}` })
          },
          (e: unknown) => finish({ status: 'unhealthy', error: e instanceof Error ? e.message : String(e) }),
        )
    })
  }

  /** Runs the checks of `kind` (all when omitted) concurrently and aggregates them. */
  async report(kind?: 'liveness' | 'readiness'): Promise<HealthReport> {
    const selected = [...this.checks.values()].filter(
      (c) => kind === undefined || (c.kind ?? 'readiness') === kind,
    )
    const components = await Promise.all(selected.map((c) => this.run(c)))
    const reasons: string[] = []
    let status: HealthReport['status'] = 'healthy'
    for (const h of components) {
      if (h.status === 'healthy') continue
      reasons.push(`${h.name}: ${h.status}${h.error ? ` (${h.error})` : ''}`)
      if (h.status === 'unhealthy' && h.critical) status = 'unhealthy'
      else if (status === 'healthy') status = 'degraded'
    }
    return { status, checkedAt: new Date(this.clock.now()).toISOString(), reasons, components }
  }
}
