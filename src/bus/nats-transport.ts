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
 * This file holds the connection (and the streams made again after a loss), subscribing,
 * publishing and replies, the outcomes of delivered messages, the store's operations and close.
 * The lanes, their consumes and the heartbeat are the consumer side (nats-consumer.ts); dead
 * letters and KV buckets are in nats-store.ts; dialling and health in nats-connection.ts.
 */
import type { NatsConnection } from 'nats'
import { ClosedError } from '../errors.js'
import { BusTransportError } from './errors.js'
import { type Conn, NatsHealth, openConnection } from './nats-connection.js'
import { type Handle, Lanes } from './nats-consumer.js'
import {
  NatsNames,
  type NatsTransportOptions,
  type ResolvedNatsOptions,
  resolveNatsOptions,
} from './nats-options.js'
import { encodeEnvelope, ensureStreams, isStreamGone, NatsStore } from './nats-store.js'
import { PendingSubscribes } from './pending-subscribes.js'
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

const text = new TextEncoder()

/** The NATS JetStream transport. */
export class NatsTransport implements Transport {
  readonly kind = 'nats'
  readonly names: NatsNames
  private readonly o: ResolvedNatsOptions
  private conn: Promise<Conn> | undefined
  private c: Conn | undefined
  /** Delivered messages not yet settled (filled by the lanes, settled here). */
  private readonly inflight = new Map<Envelope, Handle>()
  private readonly lanes: Lanes
  private closed = false
  private readonly pending = new PendingSubscribes()
  private readonly healthWatch: NatsHealth
  /** Ends the wait between two connection attempts. */
  private wake = () => {}

  constructor(options: NatsTransportOptions) {
    this.o = resolveNatsOptions(options)
    this.names = new NatsNames(this.o.stream)
    this.healthWatch = new NatsHealth(this.o.clock)
    this.lanes = new Lanes(this.o, this.names, this.inflight, (c) => this.restoreStreams(c))
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
    // what a caller starts after close() fails with E_CLOSED (regression: on a connection the
    // caller passed in, which close() leaves open, sends were still stored)
    if (this.closed) return Promise.reject(new ClosedError(`NATS transport "${this.o.stream}"`))
    // a failed set-up is not kept: the next subscribe or send tries again (regression: a server
    // without JetStream, or an account refused its streams, failed the transport for good, so
    // the bus's retries of its subscribe could never succeed once the operator fixed it)
    this.conn ??= this.connect().catch((err: unknown) => {
      this.conn = undefined
      throw err
    })
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
    const c = await this.pending.run(inbox, () => this.ready())
    if (c === undefined) {
      // the transport closed under it: the bus must not count itself consuming (regression: its
      // whenReady() resolved and its stats said consuming, though nothing ever read for it)
      if (this.pending.isClosing) throw new ClosedError(`NATS transport "${this.o.stream}"`)
      return
    }
    try {
      await this.lanes.add(c, address, inbox, sink)
      c.store.watchMaxDeliveries()
      await c.nc.flush()
    } catch (err) {
      // nothing of a failed subscribe keeps running: the bus subscribes again, and a lane left
      // half started would consume beside the new one
      this.lanes.remove(address, inbox, sink)
      throw err
    }
    this.lanes.startHeartbeat()
  }

  async unsubscribe(address: string, inbox: string, sink: TransportSink): Promise<void> {
    this.pending.cancel(inbox)
    if (!this.lanes.remove(address, inbox, sink)) return
    await this.c?.nc.flush().catch(() => {})
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
      // settling what was delivered is not refused after close() (regression: a handler that
      // failed after the transport closed had its dead letter refused with E_CLOSED and nak'ed)
      const c = this.c ?? (await this.ready())
      await c.store.bury(letter)
      h?.m.term()
    }
    // not stored: the message comes back (nak) and is dead-lettered again
    run().catch(() => h?.m.nak(1000))
  }

  private addressesFor(filter: DeadLetterFilter): string[] {
    return filter.to !== undefined ? [filter.to] : [...new Set(this.lanes.all.map((l) => l.address))]
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

  // the processed-set is read and written for messages delivered before close(): not refused
  // (regression: an idempotent handler that finished after close() had its mark refused with
  // E_CLOSED, and the message that ran was failed and retried)
  async isProcessed(key: string): Promise<boolean> {
    return (this.c ?? (await this.ready())).store.isProcessed(key)
  }

  async markProcessed(key: string, windowMs: number): Promise<void> {
    return (this.c ?? (await this.ready())).store.markProcessed(key, windowMs)
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
    this.lanes.abandon()
    this.healthWatch.stop()
    void this.c?.nc.close().catch(() => {})
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.pending.close()
    for (const l of [...this.lanes.all]) await this.unsubscribe(l.address, l.inbox, l.sink)
    this.closed = true
    this.wake()
    this.lanes.close()
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
