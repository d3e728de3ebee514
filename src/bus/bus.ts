/**
 * createBus(): send, broadcast, request-reply and handlers by message type over a transport.
 * Received messages wait in the scheduler (four weighted classes, tenants round robin, ageing)
 * and run on a bounded pool of workers (workers.ts: the handlers, the worker loop, drain); the
 * worker loop pulls the next message itself, so a busy bus pays no timer or closure per message.
 * Outcomes go back to the transport: ack, retry with backoff, or dead letter (execution.ts). This
 * file holds the public surface: building and sending messages, registering handlers, the
 * transport's sink, dead-letter replay, stats and close.
 */
import { AbortedError, ClosedError } from '../errors.js'
import { Events } from '../events.js'
import { assertKnownKeys } from '../options.js'
import { toTimerMs } from '../time.js'
import { Admission } from './admission.js'
import type { CloseOptions, MessageBatchHandler, MessageHandler, RequestOptions, SendOptions } from './api.js'
import { type BatchIdempotency, batchProcessorFor } from './batch-handler.js'
import { checkMessageType, newEnvelope, scopedKey } from './envelope.js'
import { BusInvalidPayloadError } from './errors.js'
import { Execution, type HandlerEntry } from './execution.js'
import { MemoryTransport } from './memory-transport.js'
import { registerBusAdapter } from './metrics.js'
import {
  type BatchHandlerOptions,
  type BusOptions,
  type HandlerOptions,
  type ResolvedBusOptions,
  resolveBusOptions,
  resolveHandlerOptions,
} from './options.js'
import { Requests } from './requests.js'
import { Scheduler } from './scheduler.js'
import type { BusEvents, BusStats } from './stats.js'
import { BusCounters } from './stats.js'
import { Subscription } from './subscription.js'
import type {
  Backpressure,
  DeadLetter,
  DeadLetterFilter,
  Envelope,
  Priority,
  Reply,
  Transport,
  TransportSink,
} from './types.js'
import { Workers } from './workers.js'

let sharedTransport: MemoryTransport | undefined

/** The memory transport shared by buses created without one, so agents of a process talk. */
function defaultTransport(): MemoryTransport {
  sharedTransport ??= new MemoryTransport()
  return sharedTransport
}
let instances = 0

/** The bus. */
export class Bus implements TransportSink {
  readonly name: string
  /** This instance's reply address. */
  readonly inbox: string
  readonly transport: Transport
  private readonly o: ResolvedBusOptions
  private readonly sched: Scheduler
  private readonly events = new Events<BusEvents>()
  private readonly c = new BusCounters()
  private readonly exec: Execution
  private readonly requests: Requests
  private readonly admission: Admission
  private readonly workers: Workers
  private readonly detachMonitor: (() => void) | undefined
  private seq = 0
  private closed = false
  private readonly subscription: Subscription

  constructor(options: BusOptions = {}) {
    this.o = resolveBusOptions(options)
    this.name = this.o.name
    this.inbox = `${this.name}#${process.pid}.${++instances}.${Math.random().toString(36).slice(2, 8)}`
    this.transport = this.o.transport ?? defaultTransport()
    this.sched = new Scheduler(this.o.weights, this.o.ageAfter)
    this.requests = new Requests(this.o.clock, this.name)
    this.exec = new Execution(this.transport, this.o, this.c, this.events, (env, delay) =>
      this.later(env, delay),
    )
    this.admission = new Admission(
      this.name,
      this.o.maxQueued,
      this.sched,
      this.c,
      (env, reason, err) => this.exec.bury(env, reason, err),
      () => this.workers.dispatch(),
    )
    this.workers = new Workers(this.o, this.sched, this.exec, this.admission)
    this.subscription = new Subscription({
      transport: this.transport,
      name: this.name,
      inbox: this.inbox,
      sink: this,
      clock: this.o.clock,
      counters: this.c,
      events: this.events,
    })
    if (this.o.monitor !== undefined) registerBusAdapter(this.o.monitor)
    this.detachMonitor = this.o.monitor?.attach({
      kind: 'bus',
      name: this.name,
      on: (event: keyof BusEvents, fn: (p: unknown) => void) => this.events.on(event, fn),
      stats: () => this.stats(),
    })
  }

  /**
   * Resolves when the transport consumes for this bus. While its subscribe fails (an error reply
   * such as NOPERM, OOM or READONLY during a failover), rejects with the latest failure; the bus
   * keeps trying with backoff (each failure is a `subscribeError` event).
   */
  whenReady(): Promise<void> {
    return this.subscription.ready
  }

  // --- producing -----------------------------------------------------------------------------

  private envelope(to: string, type: string, payload: unknown, o: SendOptions | undefined): Envelope {
    return newEnvelope(`${this.inbox}-${++this.seq}`, this.name, to, type, payload, this.o.clock.now(), o)
  }

  private checkType(to: string, type: string): void {
    if (this.closed) throw new ClosedError(`bus "${this.name}"`)
    if (typeof to !== 'string' || to.length === 0)
      throw new TypeError(`to must be a non-empty address; received ${String(to)}`)
    checkMessageType(type)
  }

  /**
   * Sends a message to the bus(es) named `to`. Resolves with the message id once the transport
   * holds it, or with undefined when `dedupKey` was already used within `dedupWindow`.
   */
  send(to: string, type: string, payload: unknown, options?: SendOptions): Promise<string | undefined> {
    try {
      this.checkType(to, type)
      const env = this.envelope(to, type, payload, options)
      const schema = this.o.schemas[type]
      if (schema !== undefined || env.dedupKey !== undefined) return this.sendChecked(env, options)
      // counted once the transport took it (regression: a send refused with E_BUS_FULL counted)
      const p = this.transport.publish(env, options?.backpressure ?? this.o.backpressure)
      if (p === undefined) {
        this.c.sent++
        return Promise.resolve(env.id)
      }
      return p.then(() => {
        this.c.sent++
        return env.id
      })
    } catch (err) {
      return Promise.reject(err)
    }
  }

  private async sendChecked(env: Envelope, options: SendOptions | undefined): Promise<string | undefined> {
    await this.validate(env)
    if (
      env.dedupKey !== undefined &&
      !(await this.transport.claimDedup(scopedKey(env.to, env.dedupKey), this.o.dedupWindow))
    ) {
      this.c.dedupHits++
      return undefined
    }
    await this.transport.publish(env, options?.backpressure ?? this.o.backpressure)
    this.c.sent++
    return env.id
  }

  /** Replaces the payload with its schema's output; rejects an invalid one (nothing is sent). */
  private async validate(env: Envelope): Promise<void> {
    const schema = this.o.schemas[env.type]
    if (schema === undefined) return
    let r = schema['~standard'].validate(env.payload)
    if (r instanceof Promise) r = await r
    if (r.issues !== undefined) throw new BusInvalidPayloadError(env.type, r.issues)
    env.payload = r.value
  }

  /** Sends one copy to every bus address on the transport (each address handles it once). */
  async broadcast(
    type: string,
    payload: unknown,
    options?: Omit<SendOptions, 'dedupKey' | 'backpressure'>,
  ): Promise<string> {
    this.checkType('*', type)
    const env = this.envelope('*', type, payload, options)
    env.bc = true
    await this.transport.broadcast(env)
    this.c.sent++
    return env.id
  }

  /** Sends a request and resolves with the handler's return value (or rejects with its error). */
  request<R = unknown>(to: string, type: string, payload: unknown, options: RequestOptions = {}): Promise<R> {
    try {
      this.checkType(to, type)
      if (options.signal?.aborted) return Promise.reject(new AbortedError(options.signal.reason))
      const timeout =
        options.timeout === undefined ? this.o.requestTimeout : toTimerMs(options.timeout, 'request timeout')
      const env = this.envelope(to, type, payload, { ...options, timeout: undefined })
      env.corr = env.id
      env.replyTo = this.inbox
      const reply = this.requests.open<R>(env.id, `request "${type}" to "${to}"`, timeout, options.signal)
      this.sendEnvelope(env, options.backpressure).catch((err) => this.requests.fail(env.id, err))
      return reply
    } catch (err) {
      return Promise.reject(err)
    }
  }

  private async sendEnvelope(env: Envelope, bp: Backpressure | undefined): Promise<void> {
    await this.validate(env)
    await this.transport.publish(env, bp ?? this.o.backpressure)
    this.c.sent++
  }

  // --- consuming -----------------------------------------------------------------------------

  /** A handler on a closed bus would never run; one for a type no send can carry neither. */
  private checkHandlerType(type: string): void {
    if (this.closed) throw new ClosedError(`bus "${this.name}"`)
    checkMessageType(type)
  }

  /** Handles messages of `type` one at a time (up to `concurrency` at once across types). */
  on<T = unknown>(type: string, handler: MessageHandler<T>, options: HandlerOptions = {}): () => void {
    this.checkHandlerType(type)
    if (typeof handler !== 'function') throw new TypeError(`handler for "${type}" must be a function`)
    const entry: HandlerEntry = {
      type,
      fn: handler as MessageHandler,
      batch: undefined,
      o: resolveHandlerOptions(type, options, this.o),
    }
    return this.workers.register(entry)
  }

  /**
   * Handles messages of `type` in batches per batch key (flushed on size, time or bytes). A
   * message is acknowledged only after its batch succeeded; `batch.fail(message, err)` fails one
   * message (retried or dead-lettered) while the others succeed.
   */
  onBatch<T = unknown>(
    type: string,
    handler: MessageBatchHandler<T>,
    options: BatchHandlerOptions = {},
  ): () => void {
    this.checkHandlerType(type)
    if (typeof handler !== 'function') throw new TypeError(`batch handler for "${type}" must be a function`)
    const o = resolveHandlerOptions(type, options, this.o, true)
    const window = this.o.processedWindow
    const idem: BatchIdempotency | undefined = o.idempotent
      ? {
          isProcessed: (key) => this.transport.isProcessed(key),
          mark: (key) => this.transport.markProcessed(key, window),
          skipped: new WeakSet(),
        }
      : undefined
    const processor = batchProcessorFor(handler, options, this.o, this.c, idem)
    return this.workers.register({ type, fn: undefined, batch: processor, o, skipped: idem?.skipped })
  }

  // --- TransportSink -------------------------------------------------------------------------

  /** @internal durable transports hand read messages here. */
  deliver(envs: Envelope[]): void {
    for (const e of envs) this.sched.push(e)
    this.c.received += envs.length
    this.workers.dispatch()
  }

  /** @internal the memory transport queues one message here under the backpressure policy. */
  admit(env: Envelope, bp: Backpressure): Promise<void> | undefined {
    return this.admission.admit(env, bp)
  }

  /** @internal */
  reply(r: Reply): void {
    this.requests.settle(r)
  }

  /** @internal free slots in the bounded queue. */
  room(): number {
    return this.o.maxQueued - this.sched.size
  }

  /** @internal */
  depths(): number[] {
    return this.sched.depths()
  }

  // --- retries -------------------------------------------------------------------------------

  private later(env: Envelope, delay: number): void {
    // the transport needs the handle: a durable one acks the delivered entry as it parks the retry
    this.transport.retry(env, delay)
  }

  // --- operations ----------------------------------------------------------------------------

  /** Dead letters matching `filter` (reason, attempts, last error, source id). */
  deadLetters(filter: DeadLetterFilter = {}): Promise<DeadLetter[]> {
    return this.transport.listDeadLetters(filter)
  }

  /**
   * Sends matching dead letters again with their attempts reset (optionally edited first);
   * resolves with how many were replayed.
   */
  async replay(
    filter: DeadLetterFilter = {},
    edit?: (message: Envelope) => Envelope | undefined,
  ): Promise<number> {
    const letters = await this.transport.takeDeadLetters(filter)
    const now = this.o.clock.now()
    for (const d of letters) {
      let env: Envelope = { ...d.envelope, attempt: 1, queuedAt: now, handle: undefined }
      if (edit !== undefined) env = edit(env) ?? env
      this.c.replayed++
      const p = this.transport.publish(env, 'block')
      if (p !== undefined) await p
    }
    return letters.length
  }

  /** Queue depth per class on the transport for `address` (default: this bus). */
  async queues(address = this.name): Promise<Record<Priority, number>> {
    const d = await this.transport.depth(address)
    return { urgent: d[0] ?? 0, high: d[1] ?? 0, normal: d[2] ?? 0, low: d[3] ?? 0 }
  }

  /** Subscribes to 'deadLetter', 'retry' or 'failure'; returns the disposer. */
  onEvent<K extends keyof BusEvents>(event: K, listener: (payload: BusEvents[K]) => void) {
    return this.events.on(event, listener)
  }

  /** Counters, queue depth and oldest age per class, wait and handler times. */
  stats(): BusStats {
    return this.c.snapshot(this.sched, this.o.clock.now(), this.workers.running, this.requests.size)
  }

  /** Resolves when nothing is queued or running here (batches flushed). */
  drain(): Promise<void> {
    return this.workers.drain()
  }

  /**
   * Stops sending and consuming. With `drain` (default) queued and running messages finish first,
   * up to `timeout`; pending requests are rejected with E_CLOSED.
   */
  async close(options: CloseOptions = {}): Promise<void> {
    if (this.closed) return
    // validated before the bus counts as closed: a bad option must not leave it half closed
    assertKnownKeys(options, ['drain', 'timeout'], `bus "${this.name}" close options`)
    const ms = options.drain === false ? 0 : toTimerMs(options.timeout ?? '10s', 'close timeout')
    this.closed = true
    this.subscription.stop()
    if (options.drain !== false) {
      let timer: unknown
      await Promise.race([
        this.drain(),
        new Promise<void>((r) => {
          timer = this.o.clock.setTimeout(r, ms)
        }),
      ])
      this.o.clock.clearTimeout(timer)
    }
    await this.transport.unsubscribe(this.name, this.inbox, this)
    this.requests.failAll(new ClosedError(`bus "${this.name}"`))
    await this.workers.close()
    // messages still queued here go back to the transport (redelivered to another consumer)
    for (const env of this.sched.clear()) this.transport.retry(env, 0)
    // blocked sends of a closed bus go back to the transport like queued messages
    this.admission.returnAll((env) => this.transport.retry(env, 0))
    this.detachMonitor?.()
  }
}

/** Creates a bus. */
export function createBus(options: BusOptions = {}): Bus {
  return new Bus(options)
}
