/**
 * Cross-instance L1 coherence over Redis pub/sub. Every set, delete, tag operation and clear is
 * published on `<prefix>__inv`; other instances drop (or expire) their L1 copies.
 *
 * Gap handling: pub/sub delivers at most once and nothing while disconnected, so when the
 * subscriber connection comes back after a drop, invalidations may have been missed: the bus
 * calls `onGap()`, which flushes L1 (L2 stays the source of truth).
 */
import { randomBytes } from 'node:crypto'
import { isNamespacePrefix } from './keys.js'
import type { AnyRedis } from './redis-store.js'

/** One invalidation message. */
export interface Invalidation {
  /**
   * s: set (drop L1 copies), d: delete, td: delete by tag, te: expire by tag, c: clear the
   * namespaces in `k`, f: flush everything (the root cache's clear; `k` is empty).
   */
  t: 's' | 'd' | 'td' | 'te' | 'c' | 'f'
  /** Keys, tags or namespace prefixes, depending on `t`; never empty strings. */
  k: string[]
  /** Time of a tag expiry. */
  at?: number
}

/** Settings of the bus. */
export interface BusOptions {
  client: AnyRedis
  channel: string
  onMessage: (msg: Invalidation) => void
  onGap: () => void
  /** A message that is not a valid invalidation arrived (ignored). */
  onMalformed: (error: Error) => void
}

const TYPES = new Set(['s', 'd', 'td', 'te', 'c', 'f'])

/**
 * Checks a decoded message's shape. Anything can be published on the channel, so nothing is
 * trusted: an empty key or prefix would match every entry (regression: `{"t":"c","k":[""]}`
 * flushed all of L1).
 */
export function parseInvalidation(json: string): Invalidation {
  const msg = JSON.parse(json) as Partial<Invalidation> | null
  if (msg === null || typeof msg !== 'object') throw new TypeError('not an object')
  if (typeof msg.t !== 'string' || !TYPES.has(msg.t)) throw new TypeError(`unknown type ${String(msg.t)}`)
  const k = msg.k
  if (!Array.isArray(k) || k.some((x) => typeof x !== 'string' || x.length === 0)) {
    throw new TypeError('k must be an array of non-empty strings')
  }
  if ((msg.t === 'f') !== (k.length === 0)) throw new TypeError('only a flush has no targets')
  if (msg.t === 'c' && !k.every(isNamespacePrefix)) throw new TypeError('c takes namespace prefixes')
  if (msg.at !== undefined && (typeof msg.at !== 'number' || !Number.isFinite(msg.at))) {
    throw new TypeError('at must be a finite number')
  }
  return { t: msg.t, k, at: msg.at }
}

/** The invalidation bus of one cache instance. */
export class InvalidationBus {
  /** Identifies this instance so it ignores its own messages. */
  readonly id = randomBytes(8).toString('hex')
  private readonly sub: AnyRedis
  private everReady = false
  private lost = false
  /** The first SUBSCRIBE was confirmed (ioredis resubscribes by itself after a reconnect). */
  private subscribed = false
  /** Reconnections after which L1 was flushed. */
  gaps = 0
  /** Messages on the channel that were not valid invalidations (ignored). */
  malformed = 0

  constructor(private readonly o: BusOptions) {
    this.sub = o.client.duplicate()
    this.sub.on('error', () => {
      // connection errors surface through 'close'; the main client's guard reports L2 health
    })
    this.sub.on('close', () => {
      if (this.everReady) this.lost = true
    })
    this.sub.on('ready', () => {
      if (this.lost) {
        this.lost = false
        this.gaps++
        o.onGap()
      }
      this.everReady = true
    })
    this.sub.on('messageBuffer', (_channel: unknown, message: unknown) => this.receive(message))
    this.sub.subscribe(o.channel).then(
      () => {
        this.subscribed = true
      },
      () => {
        // ioredis resubscribes on reconnect
      },
    )
  }

  /** True while the subscriber is connected and subscribed (invalidations are being received). */
  get connected(): boolean {
    return this.subscribed && this.everReady && !this.lost && this.sub.status === 'ready'
  }

  /** Encodes a message for `publish`. */
  encode(msg: Invalidation): string {
    return `${this.id}|${JSON.stringify(msg)}`
  }

  /**
   * Runs inside ioredis' event handler, where a throw would be an uncaught exception in every
   * subscribed process (regression: `PUBLISH <prefix>__inv 'x|null'` exited them all): nothing
   * here may throw. A bad message is counted, reported and ignored.
   */
  private receive(raw: unknown): void {
    let msg: Invalidation
    try {
      const s = String(raw)
      const bar = s.indexOf('|')
      if (bar < 0) throw new TypeError('no sender id')
      if (s.slice(0, bar) === this.id) return
      msg = parseInvalidation(s.slice(bar + 1))
    } catch (err) {
      this.malformed++
      this.report(err)
      return
    }
    try {
      this.o.onMessage(msg)
    } catch (err) {
      this.report(err)
    }
  }

  private report(err: unknown): void {
    try {
      this.o.onMalformed(err instanceof Error ? err : new Error(String(err)))
    } catch {
      // a throwing event listener must not take the subscriber down either
    }
  }

  /** Closes the subscriber connection. */
  close(): void {
    this.sub.disconnect()
  }
}
