/**
 * Circuit state shared across instances through Redis. The opening instance stores
 * `<key>` = openUntil (expiring then) and publishes `open:<until>` on channel `<key>`; every
 * instance adopts it. In half-open, `SET <key>:trial NX PX` lets one instance run the trial;
 * the instance whose trial succeeds publishes `close`. Redis trouble never fails a call: each
 * instance then just keeps its local state.
 */
import type { Cluster, Redis } from 'ioredis'

/** Options of a shared breaker state. */
export interface SharedStateOptions {
  /** An ioredis client (the breaker never closes it; it duplicates it once to subscribe). */
  redis: Redis | Cluster
  /** Key (and channel) naming the shared circuit, e.g. 'circuit:payments'. */
  key: string
}

interface Callbacks {
  onOpen: (until: number) => void
  onClose: () => void
}

/** The Redis side of a shared circuit. */
export class SharedBreakerState {
  private readonly redis: Redis | Cluster
  private readonly key: string
  private readonly sub: Redis | Cluster
  private readonly id = Math.random().toString(36).slice(2)

  constructor(
    options: SharedStateOptions,
    private readonly cb: Callbacks,
  ) {
    if (typeof options?.redis?.publish !== 'function')
      throw new TypeError('shared.redis must be an ioredis client')
    if (typeof options.key !== 'string' || options.key.length === 0) {
      throw new TypeError(`shared.key must be a non-empty string; received ${JSON.stringify(options.key)}`)
    }
    this.redis = options.redis
    this.key = options.key
    this.sub = options.redis.duplicate()
    this.sub.on('error', () => {})
    this.sub.on('message', (_channel: string, message: string) => this.receive(message))
    void this.sub.subscribe(this.key).catch(() => {})
    void this.redis
      .get(this.key)
      .then((v) => {
        const until = Number(v)
        if (v !== null && Number.isFinite(until)) cb.onOpen(until)
      })
      .catch(() => {})
  }

  private receive(message: string): void {
    const [origin, what, arg] = message.split('|')
    if (origin === this.id) return
    if (what === 'open') {
      const until = Number(arg)
      if (Number.isFinite(until)) this.cb.onOpen(until)
    } else if (what === 'close') {
      this.cb.onClose()
    }
  }

  /** Tells every instance the circuit is open until `until`. */
  publishOpen(until: number, now: number): void {
    const px = Math.max(1, Math.ceil(until - now))
    void this.redis.set(this.key, String(until), 'PX', px).catch(() => {})
    void this.redis.publish(this.key, `${this.id}|open|${until}`).catch(() => {})
  }

  /** Tells every instance the circuit closed. */
  publishClose(): void {
    void this.redis.del(this.key, `${this.key}:trial`).catch(() => {})
    void this.redis.publish(this.key, `${this.id}|close|`).catch(() => {})
  }

  /** True when this instance may run the half-open trial (or Redis cannot tell). */
  async claimTrial(ttl: number): Promise<boolean> {
    try {
      const r = await this.redis.set(`${this.key}:trial`, this.id, 'PX', Math.max(1, Math.ceil(ttl)), 'NX')
      if (r === 'OK') return true
      return (await this.redis.get(`${this.key}:trial`)) === this.id
    } catch {
      return true
    }
  }

  /** Closes the subscriber connection. */
  close(): void {
    this.sub.disconnect()
  }
}
