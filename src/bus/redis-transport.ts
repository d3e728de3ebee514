/**
 * The Redis Streams transport (durable, at-least-once). Per address: one stream per priority
 * class read by a consumer group with weighted budgets, a delayed-retry sorted set moved into the
 * streams by a Lua promoter, and a dead-letter stream. This file holds the transport itself: the
 * connection and its scripts, the key names, subscribing, publishing and replies, each message's
 * outcome, dead letters, idempotency and close. The rest: the read loops and the background jobs
 * (promoter, take-over, heartbeat) are the consumer side (redis-consumer.ts); messages sent in one
 * turn to one stream share an entry (redis-publisher.ts, wire format in redis-wire.ts); entries
 * are settled as a whole (redis-settle.ts); a dead consumer's entries are taken over with their
 * delivery counts and a live one's kept claimed (redis-claim.ts). Replies travel over pub/sub (one
 * channel per bus instance, no polling). Keys share the hash tag `{address}`, so it runs on Redis
 * Cluster.
 */
import type { Cluster, Redis } from 'ioredis'
import { ClosedError } from '../errors.js'
import type { Clock } from '../time.js'
import { parseReply, processedKeyOf } from './envelope.js'
import { PendingSubscribes } from './pending-subscribes.js'
import { GROUP } from './redis-claim.js'
import { Consumer, type Subscription } from './redis-consumer.js'
import { findDeadLetters, takeFound } from './redis-dead-letters.js'
import { type RedisTransportOptions, resolveRedisTransportOptions } from './redis-options.js'
import { Publisher } from './redis-publisher.js'
import { CLAIM, FINISH, PROMOTE, PRUNE, SPLIT } from './redis-scripts.js'
import { Settlement } from './redis-settle.js'
import { type Entry, encode } from './redis-wire.js'

export type { RedisTransportOptions } from './redis-options.js'

import type {
  Backpressure,
  DeadLetter,
  DeadLetterFilter,
  Envelope,
  Reply,
  Transport,
  TransportSink,
} from './types.js'

type Client = Redis | Cluster

/** The Redis Streams transport. */
export class RedisTransport implements Transport {
  readonly kind = 'redis'
  private cmd!: Client
  private sub!: Client
  private owned = false
  private readonly url: string | undefined
  private readonly prefix: string
  private readonly clock: Clock
  private readonly maxDead: number
  private readonly pub: Publisher
  private readonly inboxes = new Map<string, TransportSink>()
  private readonly acks: Settlement
  private readonly consumer: Consumer
  private closed = false
  private readonly pending = new PendingSubscribes()
  private connecting: Promise<void> | undefined
  /** Entries taken over from dead consumers. */
  reclaimed = 0
  /** Consumer names of closed or crashed buses removed from the groups by the periodic prune. */
  pruned = 0

  constructor(options: RedisTransportOptions) {
    const o = resolveRedisTransportOptions(options)
    this.url = o.url
    if (o.client !== undefined) this.cmd = o.client
    this.prefix = o.prefix
    this.clock = o.clock
    this.maxDead = o.maxDead
    const client = () => this.ready().then(() => this.cmd)
    this.pub = new Publisher(client, o.pack)
    this.acks = new Settlement(
      client,
      (a) => this.delayedKey(a),
      (a) => this.dlqKey(a),
      o.maxDead,
    )
    this.consumer = new Consumer(
      o,
      () => this.cmd,
      this.acks,
      (a, p) => this.stream(a, p),
      (a) => this.delayedKey(a),
      (n) => {
        this.reclaimed += n
      },
      (n) => {
        this.pruned += n
      },
    )
  }

  private ready(): Promise<void> {
    this.connecting ??= (async () => {
      if (this.cmd === undefined) {
        const { Redis } = await import('ioredis')
        this.cmd = new Redis(this.url as string, { maxRetriesPerRequest: null })
        // an outage surfaces as failed commands (retried by the loops), not as unhandled events
        this.cmd.on('error', () => {})
        this.owned = true
      }
      this.cmd.defineCommand('hpBusFinish', { numberOfKeys: 3, lua: FINISH })
      this.cmd.defineCommand('hpBusPromote', { numberOfKeys: 5, lua: PROMOTE })
      this.cmd.defineCommand('hpBusClaim', { numberOfKeys: 1, lua: CLAIM })
      this.cmd.defineCommand('hpBusSplit', { numberOfKeys: 1, lua: SPLIT })
      this.cmd.defineCommand('hpBusPrune', { numberOfKeys: 1, lua: PRUNE })
      this.sub = this.cmd.duplicate()
      this.sub.on('error', () => {})
      this.sub.on('messageBuffer', () => {})
      this.sub.on('message', (channel: string, text: string) => {
        const sink = this.inboxes.get(channel.slice(this.prefix.length + 2))
        const reply = sink === undefined ? undefined : parseReply(text)
        if (reply !== undefined) sink?.reply(reply)
      })
    })()
    return this.connecting
  }

  /**
   * ready(), refused once the transport is closed: what a caller starts after close() fails with
   * E_CLOSED (regression: a transport on a client the caller passed in, which close() leaves open,
   * still stored sends after it was closed). Settling what was delivered is not refused.
   */
  private open(): Promise<void> {
    return this.closed ? Promise.reject(new ClosedError('redis transport')) : this.ready()
  }

  private tag(address: string): string {
    return `${this.prefix}{${address}}`
  }
  private stream(address: string, p: number): string {
    return `${this.tag(address)}:s${p}`
  }
  private delayedKey(address: string): string {
    return `${this.tag(address)}:delayed`
  }
  private dlqKey(address: string): string {
    return `${this.tag(address)}:dlq`
  }

  async subscribe(address: string, inbox: string, sink: TransportSink): Promise<void> {
    const keys = [0, 1, 2, 3].map((p) => this.stream(address, p))
    const channel = `${this.prefix}r:${inbox}`
    const start = await this.pending.run(inbox, async () => {
      await this.open()
      for (const k of keys) {
        try {
          await this.cmd.xgroup('CREATE', k, GROUP, '0', 'MKSTREAM')
        } catch (err) {
          if (!String((err as Error).message).includes('BUSYGROUP')) throw err
        }
      }
      await this.cmd.sadd(`${this.prefix}addresses`, address)
      await this.sub.subscribe(channel)
      return true
    })
    if (start === true) {
      this.start(address, inbox, sink, keys)
      return
    }
    await this.sub.unsubscribe(channel).catch(() => {})
    // the transport closed under it: the bus must not count itself consuming (regression: its
    // whenReady() resolved and its stats said consuming, though nothing ever read for it)
    if (this.pending.isClosing) throw new ClosedError('redis transport')
  }

  private start(address: string, inbox: string, sink: TransportSink, keys: string[]): void {
    this.inboxes.set(inbox, sink)
    const s: Subscription = {
      address,
      inbox,
      sink,
      reader: this.cmd.duplicate().on('error', () => {}),
      keys,
      stopped: false,
      loop: Promise.resolve(),
      perEntry: this.pub.pack,
    }
    this.consumer.start(s)
  }

  async unsubscribe(address: string, inbox: string, sink: TransportSink): Promise<void> {
    this.pending.cancel(inbox)
    const s = this.consumer.subs.find((x) => x.address === address && x.inbox === inbox && x.sink === sink)
    this.inboxes.delete(inbox)
    if (s === undefined) return
    await this.consumer.stop(s)
    await this.sub.unsubscribe(`${this.prefix}r:${inbox}`).catch(() => {})
  }

  // --- writing -------------------------------------------------------------------------------

  publish(env: Envelope, _bp: Backpressure): Promise<void> {
    if (this.closed) return Promise.reject(new ClosedError('redis transport'))
    return this.pub.publish(this.stream(env.to, env.p), env)
  }

  async broadcast(env: Envelope): Promise<void> {
    await this.open()
    const addresses = await this.cmd.smembers(`${this.prefix}addresses`)
    for (const address of addresses) {
      await this.publish({ ...env, id: `${env.id}@${address}`, to: address }, 'block')
    }
  }

  async reply(to: string, reply: Reply): Promise<void> {
    await this.open()
    await this.cmd.publish(`${this.prefix}r:${to}`, JSON.stringify(reply))
  }

  /** Takes the message's entry (once): undefined when it was not delivered from a stream. */
  private entryOf(env: Envelope): Entry | undefined {
    const e = env.handle as Entry | undefined
    env.handle = undefined
    return e
  }

  ack(env: Envelope): void {
    const e = this.entryOf(env)
    if (e !== undefined) this.acks.settled(e)
  }

  retry(env: Envelope, delayMs: number): void {
    const e = this.entryOf(env)
    const score = this.clock.now() + delayMs
    env.queuedAt = score
    const member = `${env.p}${encode(env)}`
    if (e !== undefined) {
      e.retries.push(score, member)
      this.acks.settled(e)
      return
    }
    this.ready()
      .then(() => this.cmd.zadd(this.delayedKey(env.to), score, member))
      .catch(() => {})
  }

  deadLetter(letter: DeadLetter): void {
    const e = this.entryOf(letter.envelope)
    const data = JSON.stringify({ ...letter, envelope: JSON.parse(encode(letter.envelope)) })
    if (e !== undefined) {
      e.dead.push(data)
      this.acks.settled(e)
      return
    }
    const dlq = this.dlqKey(letter.envelope.to)
    this.ready()
      .then(() => this.cmd.xadd(dlq, 'MAXLEN', '~', this.maxDead, '*', 'd', data))
      .catch(() => {})
  }

  private addressesOf(filter: DeadLetterFilter): string[] {
    return filter.to !== undefined ? [filter.to] : [...new Set(this.consumer.subs.map((s) => s.address))]
  }

  async listDeadLetters(filter: DeadLetterFilter): Promise<DeadLetter[]> {
    await this.open()
    await this.acks.flush()
    const found = await findDeadLetters(this.cmd, (a) => this.dlqKey(a), this.addressesOf(filter), filter)
    return found.map((x) => x.d)
  }

  async takeDeadLetters(filter: DeadLetterFilter): Promise<DeadLetter[]> {
    await this.open()
    const found = await findDeadLetters(this.cmd, (a) => this.dlqKey(a), this.addressesOf(filter), filter)
    return takeFound(this.cmd, found)
  }

  async claimDedup(key: string, windowMs: number): Promise<boolean> {
    await this.open()
    return (await this.cmd.set(`${this.prefix}dedup:${key}`, '1', 'PX', Math.max(1, windowMs), 'NX')) === 'OK'
  }

  // the processed-set is read and written for messages delivered before close(): not refused
  // (regression: an idempotent handler that finished after close() had its mark refused with
  // E_CLOSED, and the message that ran was failed and retried)
  async isProcessed(key: string): Promise<boolean> {
    await this.ready()
    return (await this.cmd.exists(`${this.prefix}done:${key}`)) === 1
  }

  /** The processed-set key of `message` (its `dedupKey`, else its id), for a handler's own Lua. */
  processedKey(message: { to: string; id: string; dedupKey?: string }): string {
    return `${this.prefix}done:${processedKeyOf(message)}`
  }

  /**
   * Adds the processed-set mark of `message` to the handler's own `multi()`: a side effect written
   * to this Redis in the same transaction is then exactly once, a crash or kill -9 at any point
   * included (the transaction applies both or neither; a redelivery finds the mark and is acked
   * without running). `windowMs` should be the bus's `processedWindow`.
   */
  markProcessedIn<T extends { set(key: string, value: string, px: 'PX', ms: number): unknown }>(
    tx: T,
    message: { to: string; id: string; dedupKey?: string },
    windowMs = 3_600_000,
  ): T {
    tx.set(this.processedKey(message), '1', 'PX', Math.max(1, windowMs))
    return tx
  }

  async markProcessed(key: string, windowMs: number): Promise<void> {
    await this.ready()
    await this.cmd.set(`${this.prefix}done:${key}`, '1', 'PX', Math.max(1, windowMs))
  }

  async depth(address: string): Promise<number[]> {
    await this.open()
    const pipe = this.cmd.pipeline()
    for (let p = 0; p < 4; p++) pipe.xlen(this.stream(address, p))
    const res = (await pipe.exec()) ?? []
    return res.map((r) => Number(r[1] ?? 0))
  }

  /** Messages waiting for a retry time, for `address`. */
  async delayedCount(address: string): Promise<number> {
    await this.open()
    return this.cmd.zcard(this.delayedKey(address))
  }

  /** Drops every connection without acking anything (a test's stand-in for a crash). */
  abandon(): void {
    this.closed = true
    this.consumer.abandon()
    this.sub?.disconnect()
    this.cmd?.disconnect()
  }

  /** The close under way: a second close() waits for it (regression: it returned at once, a reader still connected). */
  private closingDone: Promise<void> | undefined

  close(): Promise<void> {
    this.closingDone ??= this.closeOnce()
    return this.closingDone
  }

  private async closeOnce(): Promise<void> {
    if (this.closed) return
    this.pending.close()
    // a subscribe may be connecting (ioredis still loading): its connections must exist before
    // they are closed (regression: closed during the connect, both stayed open for good)
    await this.connecting?.catch(() => {})
    for (const s of [...this.consumer.subs]) await this.unsubscribe(s.address, s.inbox, s.sink)
    this.closed = true
    this.consumer.close()
    await this.acks.flush()
    await this.pub.flush()
    this.sub?.disconnect()
    if (this.owned) await this.cmd.quit().catch(() => {})
    // never connected: a bus or a send that comes after close must not open connections that
    // nothing closes (regression: they stayed open for good and the send was stored)
    if (this.connecting === undefined) {
      this.connecting = Promise.reject(new ClosedError('redis transport'))
      this.connecting.catch(() => {})
    }
  }
}

/** Creates a Redis Streams transport. */
export function redisTransport(options: RedisTransportOptions): RedisTransport {
  return new RedisTransport(options)
}
