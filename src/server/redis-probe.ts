/**
 * Redis readiness without I/O on the request path. A readiness probe that PINGs Redis waits for
 * the answer; against a closed port ioredis holds the command through its reconnect attempts, and
 * /health/ready took about 970 ms — just under the 1 s timeout of common probes. Here a background
 * probe PINGs on a timer (with its own deadline) and the check only reads the state it recorded
 * and the client's connection status, so it answers at once.
 */
import type { Redis } from 'ioredis'
import type { CheckResult } from '../metrics/index.js'
import { type Clock, systemClock } from '../time.js'

/** Options of the probe (the defaults suit the reference server). */
export interface RedisProbeOptions {
  /** Time between two PINGs, in ms. @default 2000 */
  intervalMs?: number
  /** A PING unanswered for this long counts as failed, in ms. @default 500 */
  timeoutMs?: number
  /** @default systemClock */
  clock?: Clock
}

/** The last probe's outcome. */
interface Observation {
  ok: boolean
  at: number
  latencyMs: number
  error?: string
}

/** Background PINGs of one Redis client; `check()` is the health check that reads them. */
export class RedisProbe {
  private last: Observation | undefined
  private next: unknown
  private inFlight = false
  private readonly intervalMs: number
  private readonly timeoutMs: number
  private readonly clock: Clock

  constructor(
    private readonly redis: Redis,
    options: RedisProbeOptions = {},
  ) {
    this.intervalMs = options.intervalMs ?? 2000
    this.timeoutMs = options.timeoutMs ?? 500
    this.clock = options.clock ?? systemClock
    // a (re)connection is probed at once, so readiness follows it without waiting an interval
    redis.on('ready', () => this.probe())
    this.probe()
  }

  /** Healthy when the connection is ready and the last PING, recent enough, was answered. */
  check(): CheckResult {
    const status = this.redis.status
    if (status !== 'ready') return { status: 'unhealthy', details: { connection: status } }
    const last = this.last
    if (last === undefined) return { status: 'unhealthy', details: { connection: status, ping: 'pending' } }
    const ageMs = this.clock.now() - last.at
    // a probe older than three intervals means the probes themselves are stuck
    if (!last.ok || ageMs > 3 * (this.intervalMs + this.timeoutMs)) {
      return {
        status: 'unhealthy',
        details: { connection: status, ping: last.error ?? 'stale', checkedAgoMs: ageMs },
      }
    }
    return { status: 'healthy', details: { connection: status, pingMs: last.latencyMs, checkedAgoMs: ageMs } }
  }

  private probe(): void {
    // a closed client is gone for good: stop probing (the timer is unref'd in any case)
    if (this.redis.status === 'end' || this.inFlight) return
    if (this.next !== undefined) this.clock.clearTimeout(this.next)
    this.inFlight = true
    const start = this.clock.now()
    let settled = false
    const settle = (ok: boolean, error?: string) => {
      if (settled) return
      settled = true
      this.inFlight = false
      this.clock.clearTimeout(deadline)
      const at = this.clock.now()
      this.last = { ok, at, latencyMs: at - start, ...(error === undefined ? {} : { error }) }
      this.next = this.clock.setBackgroundTimeout(() => this.probe(), this.intervalMs)
    }
    const deadline = this.clock.setBackgroundTimeout(
      () => settle(false, `no PONG within ${this.timeoutMs} ms`),
      this.timeoutMs,
    )
    // not connected: no PING (it would only queue), the status says enough
    if (this.redis.status !== 'ready') {
      settle(false, `connection ${this.redis.status}`)
      return
    }
    this.redis.ping().then(
      (r) => settle(r === 'PONG', r === 'PONG' ? undefined : `answered ${String(r)}`),
      (e: unknown) => settle(false, e instanceof Error ? e.message : String(e)),
    )
  }
}
