/**
 * The NATS transport's consumer side. A lane is one subscription of a bus instance to an address:
 * its reply subject and one durable pull consumer per priority class, each created or updated,
 * consumed, and started again when its consume ends (the server lost the stream or consumer, a
 * fatal error). Delivered messages are taken into the in-flight map with the delivery count as
 * their attempt, and the heartbeat's in-progress acks (`working()`) keep held messages this
 * consumer's. Their outcomes (ack, nak, deferral, term) are the transport's (nats-transport.ts),
 * which shares the in-flight map.
 */
import type { ConsumerMessages, JsMsg, Subscription } from 'nats'
import { envelopeFault, malformedLetter, parseReply } from './envelope.js'
import type { Conn } from './nats-connection.js'
import type { NatsNames, ResolvedNatsOptions } from './nats-options.js'
import type { Envelope, TransportSink } from './types.js'

const untext = new TextDecoder()

/** One address consumed for one bus instance. */
export interface Lane {
  address: string
  inbox: string
  sink: TransportSink
  stopped: boolean
  consumers: Array<ConsumerMessages | undefined>
  replies: Subscription | undefined
  /** Messages held for a delay that costs no attempt. */
  deferred: Map<Envelope, unknown>
}

/** A delivered message not yet settled. */
export interface Handle {
  m: JsMsg
  lane: Lane
  /** The attempt this delivery carried: a retry raised it, a deferral did not. */
  attempt: number
  /** Last time the server heard of it (delivery or in-progress ack). */
  since: number
}

const ns = (ms: number) => ms * 1_000_000

/** The lanes of one transport, their consumes and the heartbeat of what they delivered. */
export class Lanes {
  /** The open lanes. */
  readonly all: Lane[] = []
  private heartbeatTimer: unknown
  private closed = false

  constructor(
    private readonly o: ResolvedNatsOptions,
    private readonly names: NatsNames,
    /** Delivered messages not yet settled, filled here and settled by the transport. */
    private readonly inflight: Map<Envelope, Handle>,
    /** Makes the streams again after the server lost them (one at a time). */
    private readonly restoreStreams: (c: Conn) => Promise<void>,
  ) {}

  /** Opens the lane of `inbox` on `address`: its replies, then a consume per class. */
  async add(c: Conn, address: string, inbox: string, sink: TransportSink): Promise<void> {
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
      // anything else published there is ignored: a throw here closes the whole connection
      // (regression: a forged 'not json' reply left every later send and close() hanging)
      callback: (_err, m) => {
        const reply = lane.stopped ? undefined : parseReply(untext.decode(m.data))
        if (reply !== undefined) sink.reply(reply)
      },
    })
    this.all.push(lane)
    for (let p = 0; p < 4; p++) await this.consume(c, lane, p)
  }

  /** Stops the lane of (`address`, `inbox`, `sink`); false when there is none. */
  remove(address: string, inbox: string, sink: TransportSink): boolean {
    const i = this.all.findIndex((l) => l.address === address && l.inbox === inbox && l.sink === sink)
    if (i < 0) return false
    const lane = this.all[i] as Lane
    this.all.splice(i, 1)
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
    return true
  }

  /** Ends the heartbeat (the lanes are removed first). */
  close(): void {
    this.closed = true
    this.o.clock.clearTimeout(this.heartbeatTimer)
  }

  /** Stops every lane without acking anything (a test's stand-in for a crash). */
  abandon(): void {
    this.closed = true
    for (const lane of this.all) {
      lane.stopped = true
      // stopping a consume acks nothing; it ends the client's pull and heartbeat timers
      for (const msgs of lane.consumers) msgs?.stop()
      for (const timer of lane.deferred.values()) this.o.clock.clearTimeout(timer)
    }
    this.o.clock.clearTimeout(this.heartbeatTimer)
  }

  // --- consuming -----------------------------------------------------------------------------

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
      callback: (m) => this.take(c, lane, m),
    })
    lane.consumers[p] = messages
    // the lane was removed while this consume was being set up: stop it at once (remove() saw
    // no consume here to stop)
    if (lane.stopped) {
      messages.stop()
      return
    }
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

  private take(c: Conn, lane: Lane, m: JsMsg): void {
    if (lane.stopped || this.closed) return // never acked: redelivered to another consumer
    const now = this.o.clock.now()
    const text = untext.decode(m.data)
    let raw: unknown = text
    let fault: string | undefined = 'not JSON'
    try {
      raw = JSON.parse(text)
      fault = envelopeFault(raw)
    } catch {}
    if (fault !== undefined) {
      // not a message (someone else published it): a dead letter, then term (regression: the
      // wrong shape was held for good by the heartbeat, not JSON redelivered up to maxDeliver)
      c.store
        .bury(malformedLetter(raw, fault, `${this.names.stream}:${m.seq}`, lane.address, now))
        .then(() => m.term())
        .catch(() => m.nak(1000))
      return
    }
    const env = raw as Envelope
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

  // --- heartbeat -----------------------------------------------------------------------------

  /** Starts the heartbeat unless it runs. */
  startHeartbeat(): void {
    if (this.heartbeatTimer !== undefined) return
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
}
