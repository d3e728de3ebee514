/**
 * Cross-instance L1 coherence over Redis pub/sub. Every set, delete, tag operation and clear is
 * published on `<prefix>__inv`; other instances drop (or expire) their L1 copies.
 *
 * Gap handling: pub/sub delivers at most once and nothing while disconnected, so when the
 * subscriber connection comes back after a drop, invalidations may have been missed: the bus
 * calls `onGap()`, which flushes L1 (L2 stays the source of truth).
 */
import { randomBytes } from 'node:crypto'
import type { AnyRedis } from './redis-store.js'

/** One invalidation message. */
export interface Invalidation {
  /** s: set (drop L1 copies), d: delete, td: delete by tag, te: expire by tag, c: clear by prefix. */
  t: 's' | 'd' | 'td' | 'te' | 'c'
  /** Keys, tags or prefixes, depending on `t`. */
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
    this.sub.on('messageBuffer', (_channel: Buffer, message: Buffer) => this.receive(message))
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

  private receive(raw: Buffer): void {
    const s = raw.toString()
    const bar = s.indexOf('|')
    if (bar < 0 || s.slice(0, bar) === this.id) return
    let msg: Invalidation
    try {
      msg = JSON.parse(s.slice(bar + 1)) as Invalidation
    } catch {
      return
    }
    if (!Array.isArray(msg.k)) return
    this.o.onMessage(msg)
  }

  /** Closes the subscriber connection. */
  close(): void {
    this.sub.disconnect()
  }
}
