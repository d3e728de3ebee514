/**
 * Circuit state shared across instances through Redis. The opening instance stores
 * `<key>` = openUntil (expiring then) and publishes `open:<until>` on channel `<key>`; every
 * instance adopts it. In half-open, `SET <key>:trial NX PX` lets one instance run the trial;
 * the instance whose trial succeeds publishes `close`; one whose trial fails publishes the reopen
 * and cuts its lock to the reopen's wait, so the next trial follows the backoff, not the lock; one
 * whose trial ends without a verdict (an error `handle` does not count) gives the lock back.
 * Redis trouble never fails a call, nor slows one: a call waits on Redis at most `timeout`, then
 * the instance decides with its local state. The subscriber connection never keeps the process
 * alive (the caller's client is theirs).
 */
import type { Cluster, Redis } from 'ioredis'
import { assertKnownKeys } from '../../options.js'
import { type Clock, type Duration, toTimerMs } from '../../time.js'

/** Options of a shared breaker state. */
export interface SharedStateOptions {
  /** An ioredis client (the breaker never closes it; it duplicates it once to subscribe). */
  redis: Redis | Cluster
  /** Key (and channel) naming the shared circuit, e.g. 'circuit:payments'. */
  key: string
  /** Longest a call waits on Redis (the half-open trial claim) before using local state. @default '100ms' */
  timeout?: Duration
}

const KNOWN = ['redis', 'key', 'timeout'] as const

/** PEXPIRE the trial lock KEYS[1] to ARGV[2] ms if ARGV[1] (this instance) holds it. */
const SHORTEN_OWN_TRIAL = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end
return 0`

/** DEL the trial lock KEYS[1] if ARGV[1] (this instance) holds it. */
const RELEASE_OWN_TRIAL = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0`

/** What a Redis call answers when it did not answer within the timeout. */
const TIMED_OUT = Symbol('timed out')

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
  private readonly timeoutMs: number
  private closed = false

  constructor(
    options: SharedStateOptions,
    private readonly cb: Callbacks,
    private readonly clock: Clock,
  ) {
    assertKnownKeys(options, KNOWN, 'circuitBreaker options.shared')
    if (typeof options?.redis?.publish !== 'function')
      throw new TypeError('shared.redis must be an ioredis client')
    if (typeof options.key !== 'string' || options.key.length === 0) {
      throw new TypeError(`shared.key must be a non-empty string; received ${JSON.stringify(options.key)}`)
    }
    this.timeoutMs = toTimerMs(options.timeout ?? '100ms', 'shared.timeout')
    this.redis = options.redis
    this.key = options.key
    this.sub = options.redis.duplicate()
    this.sub.on('error', () => {})
    // the subscriber is ours and only listens: it must not keep a script alive (each reconnect
    // opens a new socket, so unref on every connect)
    this.sub.on('connect', () => unrefSocket(this.sub))
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

  /**
   * Tells every instance the circuit is open until `until`. A trial lock this instance holds (its
   * half-open trial just failed) is cut to the same wait: left at the TTL it was claimed with (the
   * previous open's wait), it would refuse every other instance's trial past this open's end when
   * the backoff steps down (a jittered one does as often as not). Not deleted outright: until the
   * reopen reaches them, instances still in half-open must not start a trial meanwhile.
   */
  publishOpen(until: number, now: number): void {
    const px = Math.max(1, Math.ceil(until - now))
    void this.redis.set(this.key, String(until), 'PX', px).catch(() => {})
    void this.redis.publish(this.key, `${this.id}|open|${until}`).catch(() => {})
    void this.redis.eval(SHORTEN_OWN_TRIAL, 1, `${this.key}:trial`, this.id, px).catch(() => {})
  }

  /**
   * Gives the trial lock back when this instance's trial ended without a verdict (an error the
   * breaker's `handle` does not count): another instance may try at once.
   */
  releaseTrial(): void {
    void this.redis.eval(RELEASE_OWN_TRIAL, 1, `${this.key}:trial`, this.id).catch(() => {})
  }

  /** Tells every instance the circuit closed. */
  publishClose(): void {
    void this.redis.del(this.key, `${this.key}:trial`).catch(() => {})
    void this.redis.publish(this.key, `${this.id}|close|`).catch(() => {})
  }

  /**
   * True when this instance may run the half-open trial, or when Redis cannot tell within the
   * timeout (slow, frozen or gone): then the local state decides.
   */
  async claimTrial(ttl: number): Promise<boolean> {
    const claim = async (): Promise<boolean> => {
      const r = await this.redis.set(`${this.key}:trial`, this.id, 'PX', Math.max(1, Math.ceil(ttl)), 'NX')
      if (r === 'OK') return true
      return (await this.redis.get(`${this.key}:trial`)) === this.id
    }
    try {
      const r = await this.bounded(claim())
      return r === TIMED_OUT ? true : r
    } catch {
      return true
    }
  }

  /** `p`, or TIMED_OUT after the timeout (the caller awaits it, so the timer is a ref'd one). */
  private bounded<T>(p: Promise<T>): Promise<T | typeof TIMED_OUT> {
    if (this.closed) return Promise.resolve(TIMED_OUT)
    return new Promise<T | typeof TIMED_OUT>((resolve, reject) => {
      const timer = this.clock.setTimeout(() => resolve(TIMED_OUT), this.timeoutMs)
      p.then(
        (v) => {
          this.clock.clearTimeout(timer)
          resolve(v)
        },
        (e: unknown) => {
          this.clock.clearTimeout(timer)
          reject(e)
        },
      )
    })
  }

  /** Closes the subscriber connection. */
  close(): void {
    this.closed = true
    this.sub.disconnect()
  }
}

/** Unrefs the socket(s) of an ioredis client (standalone, or each node of a Cluster). */
function unrefSocket(client: Redis | Cluster): void {
  const c = client as unknown as {
    stream?: { unref?: () => void }
    nodes?: () => Array<{ stream?: { unref?: () => void } }>
  }
  c.stream?.unref?.()
  if (typeof c.nodes === 'function') for (const n of c.nodes()) n.stream?.unref?.()
}
