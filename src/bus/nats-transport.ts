/**
 * The NATS JetStream transport (durable, at-least-once), for nats-server 2.9+ and the `nats`
 * package v2 (an optional peer dependency, loaded on first use). One work-queue stream holds
 * every address's messages on `<stream>.m.<address>.<class>`; each address has one durable pull
 * consumer per priority class, so a full urgent lane never stops the low one from being read
 * (the bus's scheduler then serves the classes by weight). Outcomes map onto JetStream's acks: ack; a retry is
 * `nak(delay)` (the delivery count is the attempt); a delay that costs no attempt (breaker open,
 * rate limited) keeps the message held here with in-progress acks; dead letters go to their own
 * stream and the message is `term`ed. A consumer that dies leaves its messages unacked: the
 * server redelivers them to the others after `ackWait`, and a live consumer keeps long
 * handlers' (and queued) messages with `working()`. `max_deliver` is the net for poison messages:
 * the server's advisory becomes a dead letter. Replies travel over core NATS, one subject per
 * bus instance; dedup keys and the processed-set live in KV buckets.
 */
import type {
  ConsumerMessages,
  JetStreamClient,
  JetStreamManager,
  JsMsg,
  NatsConnection,
  Subscription,
} from 'nats'
import { BusTransportError } from './errors.js'
import { NatsHealth, openConnection } from './nats-connection.js'
import {
  NatsNames,
  type NatsTransportOptions,
  type ResolvedNatsOptions,
  resolveNatsOptions,
} from './nats-options.js'
import { decode, encodeEnvelope, ensureStreams, isStreamGone, NatsStore } from './nats-store.js'
import type {
  Backpressure,
  DeadLetter,
  DeadLetterFilter,
  Envelope,
  Reply,
  Transport,
  TransportHealth,
  TransportSink,
} from './types.js'

export type { NatsTransportOptions } from './nats-options.js'

interface Lane {
  address: string
  inbox: string
  sink: TransportSink
  stopped: boolean
  consumers: Array<ConsumerMessages | undefined>
  replies: Subscription | undefined
  /** Messages held for a delay that costs no attempt. */
  deferred: Map<Envelope, unknown>
}

interface Handle {
  m: JsMsg
  lane: Lane
  /** The attempt this delivery carried: a retry raised it, a deferral did not. */
  attempt: number
  /** Last time the server heard of it (delivery or in-progress ack). */
  since: number
}

interface Conn {
  nc: NatsConnection
  js: JetStreamClient
  jsm: JetStreamManager
  store: NatsStore
}

const text = new TextEncoder()
const ns = (ms: number) => ms * 1_000_000

/** The NATS JetStream transport. */
export class NatsTransport implements Transport {
  readonly kind = 'nats'
  readonly names: NatsNames
  private readonly o: ResolvedNatsOptions
  private conn: Promise<Conn> | undefined
  private c: Conn | undefined
  private readonly lanes: Lane[] = []
  private readonly inflight = new Map<Envelope, Handle>()
  private heartbeatTimer: unknown
  private closed = false
  private readonly healthWatch: NatsHealth
  /** Ends the wait between two connection attempts. */
  private wake = () => {}

  constructor(options: NatsTransportOptions) {
    this.o = resolveNatsOptions(options)
    this.names = new NatsNames(this.o.stream)
    this.healthWatch = new NatsHealth(this.o.clock)
  }

  /**
   * The connection as last observed, without I/O: status events say when it drops or comes
   * back, a background PING every 2 s (500 ms deadline) catches a server that answers nothing.
   */
  health(): TransportHealth {
    return this.healthWatch.check()
  }

  /** Connects (loading `nats`) and makes sure the streams exist. */
  private ready(): Promise<Conn> {
    this.conn ??= this.connect()
    return this.conn
  }

  private async connect(): Promise<Conn> {
    // like ioredis: a server that is not up yet (or restarts) is waited for; close() ends the wait
    const nc =
      (this.o.connection as NatsConnection | undefined) ??
      (await openConnection(
        this.o,
        () => this.closed,
        (ms) =>
          new Promise<void>((resolve) => {
            this.wake = resolve
            this.o.clock.setBackgroundTimeout(resolve, ms)
          }),
      ))
    try {
      const jsm = await nc.jetstreamManager()
      await ensureStreams(jsm, this.names, this.o)
      this.healthWatch.watch(nc)
      const js = nc.jetstream()
      const c: Conn = { nc, js, jsm, store: new NatsStore(nc, js, jsm, this.names, this.o) }
      this.c = c
      return c
    } catch (err) {
      if (this.o.connection === undefined) await nc.close().catch(() => {})
      if (err instanceof BusTransportError) throw err
      throw new BusTransportError(
        `setting up JetStream stream "${this.names.stream}" failed`,
        'check that nats-server runs with JetStream enabled (-js) and the account may create streams',
        err,
      )
    }
  }

  /** The streams again after the server lost them (a restarted memory-storage server): one at a time. */
  private restoring: Promise<void> | undefined
  private restoreStreams(c: Conn): Promise<void> {
    this.restoring ??= ensureStreams(c.jsm, this.names, this.o).finally(() => {
      this.restoring = undefined
    })
    return this.restoring
  }

  // --- consuming -----------------------------------------------------------------------------

  async subscribe(address: string, inbox: string, sink: TransportSink): Promise<void> {
    const c = await this.ready()
    const lane: Lane = {
      address,
      inbox,
      sink,
      stopped: false,
      consumers: [undefined, undefined, undefined, undefined],
      replies: undefined,
      deferred: new Map(),
    }
    lane.replies = c.nc.subscribe(this.names.reply(inbox), {
      callback: (_err, m) => {
        if (!lane.stopped) sink.reply(decode<Reply>(m.data))
      },
    })
    this.lanes.push(lane)
    for (let p = 0; p < 4; p++) await this.consume(c, lane, p)
    c.store.watchMaxDeliveries()
    await c.nc.flush()
    if (this.heartbeatTimer === undefined) this.startHeartbeat()
  }

  private consumerConfig(lane: Lane, p: number) {
    return {
      durable_name: this.names.consumer(lane.address, p),
      filter_subject: this.names.message(lane.address, p),
      ack_policy: 'explicit' as never,
      deliver_policy: 'all' as never,
      ack_wait: ns(this.o.ackWait),
      max_deliver: this.o.maxDeliver,
      max_ack_pending: this.o.maxAckPending,
    }
  }

  private async consume(c: Conn, lane: Lane, p: number): Promise<void> {
    const config = this.consumerConfig(lane, p)
    // create or update: a second process (or a restart with new options) lands on the same one
    await c.jsm.consumers.add(this.names.stream, config)
    const consumer = await c.js.consumers.get(this.names.stream, config.durable_name)
    const messages = await consumer.consume({
      max_messages: this.o.readCount,
      callback: (m) => this.take(lane, m),
    })
    lane.consumers[p] = messages
    // the server lost the stream or consumer (a restarted memory-storage server): the client
    // would only ask again after its backoff (30 s); end this consume and start one that makes
    // them again
    void (async () => {
      for await (const s of await messages.status()) {
        if (s.type === 'stream_not_found' || s.type === 'consumer_not_found') return messages.stop()
      }
    })().catch(() => {})
    // a consume that ends by itself (consumer deleted, fatal error) is started again
    void messages.closed().then(() => this.consumeAgain(c, lane, p))
  }

  /** Starts a lane's consume again after 500 ms, and again while that fails. */
  private consumeAgain(c: Conn, lane: Lane, p: number): void {
    if (lane.stopped || this.closed) return
    setTimeout(() => {
      if (lane.stopped || this.closed) return
      this.consume(c, lane, p).catch(async () => {
        await this.restoreStreams(c).catch(() => {})
        this.consumeAgain(c, lane, p)
      })
    }, 500).unref()
  }

  private take(lane: Lane, m: JsMsg): void {
    if (lane.stopped || this.closed) return // never acked: redelivered to another consumer
    const env = decode<Envelope>(m.data)
    const now = this.o.clock.now()
    // the delivery count is the attempt: a nak'ed retry and a dead consumer's message both count
    const delivered = m.info.redeliveryCount
    if (delivered > 1) {
      env.attempt += delivered - 1
      env.queuedAt = now
    } else env.queuedAt = Math.min(env.queuedAt, now)
    this.inflight.set(env, { m, lane, attempt: env.attempt, since: now })
    env.handle = m.seq
    lane.sink.deliver([env])
  }

  async unsubscribe(address: string, inbox: string, sink: TransportSink): Promise<void> {
    const i = this.lanes.findIndex((l) => l.address === address && l.inbox === inbox && l.sink === sink)
    if (i < 0) return
    const lane = this.lanes[i] as Lane
    this.lanes.splice(i, 1)
    lane.stopped = true
    lane.replies?.unsubscribe()
    for (const msgs of lane.consumers) msgs?.stop()
    // held deferrals go back now rather than after ackWait
    for (const [env, timer] of lane.deferred) {
      this.o.clock.clearTimeout(timer)
      this.inflight.get(env)?.m.nak()
      this.inflight.delete(env)
    }
    lane.deferred.clear()
    await this.c?.nc.flush().catch(() => {})
  }

  // --- heartbeat -----------------------------------------------------------------------------

  private startHeartbeat(): void {
    const every = Math.max(50, Math.floor(this.o.ackWait / 3))
    const tick = () => {
      if (this.closed) return
      const old = this.o.clock.now() - every
      // queued and running messages alike: the server must not hand them to another consumer
      for (const h of this.inflight.values()) {
        if (h.since <= old && !h.lane.stopped) {
          h.m.working()
          h.since = this.o.clock.now()
        }
      }
      this.heartbeatTimer = this.o.clock.setBackgroundTimeout(tick, every)
    }
    this.heartbeatTimer = this.o.clock.setBackgroundTimeout(tick, every)
  }

  // --- producing -----------------------------------------------------------------------------

  async publish(env: Envelope, _bp: Backpressure): Promise<void> {
    const c = await this.ready()
    const subject = this.names.message(env.to, env.p)
    const data = encodeEnvelope(env)
    try {
      try {
        await c.js.publish(subject, data)
      } catch (err) {
        // no stream takes the subject: the server lost it (a restarted memory-storage server)
        if (!isStreamGone(err)) throw err
        await this.restoreStreams(c)
        await c.js.publish(subject, data)
      }
    } catch (err) {
      throw new BusTransportError(
        `publishing to "${env.to}" on JetStream stream "${this.names.stream}" failed`,
        'check that NATS is reachable and the stream exists; the message was not sent',
        err,
      )
    }
  }

  /** Addresses with consumers on the stream (each address's urgent consumer names it). */
  async addresses(): Promise<string[]> {
    const c = await this.ready()
    const out: string[] = []
    for await (const ci of c.jsm.consumers.list(this.names.stream)) {
      const a = this.names.addressOf(ci.name)
      if (a !== undefined) out.push(a)
    }
    return out
  }

  async broadcast(env: Envelope): Promise<void> {
    await Promise.all(
      (await this.addresses()).map((address) =>
        this.publish({ ...env, id: `${env.id}@${address}`, to: address }, 'block'),
      ),
    )
  }

  async reply(to: string, reply: Reply): Promise<void> {
    const c = await this.ready()
    c.nc.publish(this.names.reply(to), text.encode(JSON.stringify(reply)))
  }

  // --- outcomes ------------------------------------------------------------------------------

  private handleOf(env: Envelope): Handle | undefined {
    const h = this.inflight.get(env)
    if (h === undefined) return undefined
    this.inflight.delete(env)
    env.handle = undefined
    return h
  }

  ack(env: Envelope): void {
    this.handleOf(env)?.m.ack()
  }

  retry(env: Envelope, delayMs: number): void {
    const h = this.inflight.get(env)
    if (h === undefined) {
      // not a message this transport delivered (a closing bus's leftover): publish it again
      this.o.clock.setTimeout(() => void this.publish(env, 'block').catch(() => {}), delayMs)
      return
    }
    const lane = h.lane
    if (lane.stopped || this.closed) {
      this.handleOf(env)
      h.m.nak()
      return
    }
    if (env.attempt > h.attempt) {
      // a retry: the server redelivers after the delay, with the delivery count raised
      this.handleOf(env)
      h.m.nak(delayMs)
      return
    }
    // a delay that costs no attempt: hold it here (the heartbeat keeps it ours), then run it again
    env.handle = h.m.seq
    lane.deferred.set(
      env,
      this.o.clock.setTimeout(() => {
        lane.deferred.delete(env)
        if (lane.stopped) return
        env.queuedAt = this.o.clock.now()
        lane.sink.deliver([env])
      }, delayMs),
    )
  }

  deadLetter(letter: DeadLetter): void {
    const h = this.handleOf(letter.envelope)
    const run = async () => {
      const c = await this.ready()
      await c.store.bury(letter)
      h?.m.term()
    }
    // not stored: the message comes back (nak) and is dead-lettered again
    run().catch(() => h?.m.nak(1000))
  }

  private addressesFor(filter: DeadLetterFilter): string[] {
    return filter.to !== undefined ? [filter.to] : [...new Set(this.lanes.map((l) => l.address))]
  }

  async listDeadLetters(filter: DeadLetterFilter): Promise<DeadLetter[]> {
    const c = await this.ready()
    return c.store.list(this.addressesFor(filter), filter)
  }

  async takeDeadLetters(filter: DeadLetterFilter): Promise<DeadLetter[]> {
    const c = await this.ready()
    return c.store.take(this.addressesFor(filter), filter)
  }

  async claimDedup(key: string, windowMs: number): Promise<boolean> {
    return (await this.ready()).store.claimDedup(key, windowMs)
  }

  async isProcessed(key: string): Promise<boolean> {
    return (await this.ready()).store.isProcessed(key)
  }

  async markProcessed(key: string, windowMs: number): Promise<void> {
    return (await this.ready()).store.markProcessed(key, windowMs)
  }

  /** Messages stored for `address` per class (waiting or delivered and not yet acked). */
  async depth(address: string): Promise<number[]> {
    const c = await this.ready()
    const info = await c.jsm.streams.info(this.names.stream, { subjects_filter: this.names.classes(address) })
    const subjects = (info.state.subjects ?? {}) as Record<string, number>
    return [0, 1, 2, 3].map((p) => subjects[this.names.message(address, p)] ?? 0)
  }

  /** Messages this process holds (delivered, not yet acked). */
  get held(): number {
    return this.inflight.size
  }

  /** Drops the connection without acking anything (a test's stand-in for a crash). */
  abandon(): void {
    this.closed = true
    for (const lane of this.lanes) {
      lane.stopped = true
      // stopping a consume acks nothing; it ends the client's pull and heartbeat timers
      for (const msgs of lane.consumers) msgs?.stop()
      for (const timer of lane.deferred.values()) this.o.clock.clearTimeout(timer)
    }
    this.o.clock.clearTimeout(this.heartbeatTimer)
    this.healthWatch.stop()
    void this.c?.nc.close().catch(() => {})
  }

  async close(): Promise<void> {
    if (this.closed) return
    for (const l of [...this.lanes]) await this.unsubscribe(l.address, l.inbox, l.sink)
    this.closed = true
    this.wake()
    this.o.clock.clearTimeout(this.heartbeatTimer)
    this.healthWatch.stop()
    if (this.conn === undefined) return
    const c = await this.conn.catch(() => undefined)
    if (c === undefined) return
    c.store.close()
    // acks and naks written last are on the wire before the connection goes
    await c.nc.flush().catch(() => {})
    if (this.o.connection === undefined) await c.nc.close().catch(() => {})
  }
}

/** Creates a NATS JetStream transport (`nats` v2 is loaded on first use). */
export function natsTransport(options: NatsTransportOptions): NatsTransport {
  return new NatsTransport(options)
}
