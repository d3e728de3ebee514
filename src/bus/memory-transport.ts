/**
 * The memory transport (the default): addresses map to the buses consuming them in this
 * process, round robin between buses that share an address. Nothing survives the process; a
 * message sent to an address nobody consumes yet waits (bounded) until a consumer subscribes.
 * Retries wait on timers; dead letters, dedup keys and the processed-set are bounded maps.
 */
import { assertKnownKeys } from '../options.js'
import { type Clock, systemClock } from '../time.js'
import { positiveInt } from './batch-options.js'
import { Deque } from './deque.js'
import { BusFullError } from './errors.js'
import type {
  Backpressure,
  DeadLetter,
  DeadLetterFilter,
  Envelope,
  Reply,
  Transport,
  TransportSink,
} from './types.js'

/** Options of `memoryTransport()`. */
export interface MemoryTransportOptions {
  /** Dead letters kept (the oldest are dropped above it, and counted). @default 10000 */
  maxDeadLetters?: number
  /** Dedup and processed keys kept each (the oldest are forgotten above it). @default 100000 */
  maxKeys?: number
  /** Messages held for an address nobody consumes yet. @default 100000 */
  maxUnrouted?: number
  /** @default systemClock */
  clock?: Clock
}

interface Route {
  sinks: TransportSink[]
  next: number
  /** Messages sent before any consumer subscribed. */
  held: Deque<Envelope>
}

/** A bounded key -> expiry map; insertion order is expiry order for one window. */
class ExpiringKeys {
  private readonly m = new Map<string, number>()
  constructor(private readonly max: number) {}

  has(key: string, now: number): boolean {
    const at = this.m.get(key)
    if (at === undefined) return false
    if (at > now) return true
    this.m.delete(key)
    return false
  }

  add(key: string, until: number): void {
    this.m.delete(key)
    this.m.set(key, until)
    if (this.m.size > this.max) this.m.delete(this.m.keys().next().value as string)
  }
}

/** The in-process transport. */
export class MemoryTransport implements Transport {
  readonly kind = 'memory'
  private readonly routes = new Map<string, Route>()
  private readonly inboxes = new Map<string, TransportSink>()
  private readonly clock: Clock
  private readonly maxDead: number
  private readonly maxUnrouted: number
  private readonly dead: DeadLetter[] = []
  private readonly dedup: ExpiringKeys
  private readonly processed: ExpiringKeys
  private readonly timers = new Set<unknown>()
  /** Dead letters dropped because `maxDeadLetters` was reached. */
  droppedDeadLetters = 0

  constructor(options: MemoryTransportOptions = {}) {
    assertKnownKeys(options, ['maxDeadLetters', 'maxKeys', 'maxUnrouted', 'clock'], 'memoryTransport options')
    this.clock = options.clock ?? systemClock
    this.maxDead = positiveInt(options.maxDeadLetters ?? 10_000, 'maxDeadLetters')
    const maxKeys = positiveInt(options.maxKeys ?? 100_000, 'maxKeys')
    this.maxUnrouted = positiveInt(options.maxUnrouted ?? 100_000, 'maxUnrouted')
    this.dedup = new ExpiringKeys(maxKeys)
    this.processed = new ExpiringKeys(maxKeys)
  }

  private route(address: string): Route {
    let r = this.routes.get(address)
    if (r === undefined) {
      r = { sinks: [], next: 0, held: new Deque() }
      this.routes.set(address, r)
    }
    return r
  }

  async subscribe(address: string, inbox: string, sink: TransportSink): Promise<void> {
    const r = this.route(address)
    r.sinks.push(sink)
    this.inboxes.set(inbox, sink)
    // messages that waited for a consumer go to it now, in order
    for (let e = r.held.shift(); e !== undefined; e = r.held.shift()) {
      const p = sink.admit(e, 'block')
      if (p !== undefined) await p
    }
  }

  async unsubscribe(address: string, inbox: string, sink: TransportSink): Promise<void> {
    const r = this.routes.get(address)
    if (r !== undefined) r.sinks = r.sinks.filter((s) => s !== sink)
    this.inboxes.delete(inbox)
  }

  publish(env: Envelope, backpressure: Backpressure): Promise<void> | undefined {
    const r = this.route(env.to)
    const n = r.sinks.length
    if (n === 0) {
      if (r.held.size >= this.maxUnrouted) throw new BusFullError(env.to, this.maxUnrouted)
      r.held.push(env)
      return undefined
    }
    let sink = r.sinks[r.next++ % n] as TransportSink
    // prefer a consumer with room among those sharing the address
    if (n > 1 && sink.room() <= 0) {
      for (const s of r.sinks) {
        if (s.room() > 0) {
          sink = s
          break
        }
      }
    }
    return sink.admit(env, backpressure)
  }

  async broadcast(env: Envelope): Promise<void> {
    for (const [address, r] of this.routes) {
      if (r.sinks.length === 0) continue
      const copy: Envelope = { ...env, id: `${env.id}@${address}`, to: address }
      const p = this.publish(copy, 'block')
      if (p !== undefined) await p
    }
  }

  async reply(to: string, reply: Reply): Promise<void> {
    // a requester that went away has nobody to tell: the reply is dropped
    this.inboxes.get(to)?.reply(reply)
  }

  ack(_env: Envelope): void {}

  retry(env: Envelope, delayMs: number): void {
    const t = this.clock.setTimeout(() => {
      this.timers.delete(t)
      env.queuedAt = this.clock.now()
      const p = this.publish(env, 'block')
      if (p !== undefined) p.catch(() => this.deadLetterFull(env))
    }, delayMs)
    this.timers.add(t)
  }

  private deadLetterFull(env: Envelope): void {
    this.deadLetter({
      id: env.id,
      envelope: env,
      reason: 'shed',
      attempts: env.attempt,
      error: 'queue full',
      at: this.clock.now(),
    })
  }

  deadLetter(letter: DeadLetter): void {
    letter.envelope.handle = undefined
    this.dead.push(letter)
    if (this.dead.length > this.maxDead) {
      this.dead.shift()
      this.droppedDeadLetters++
    }
  }

  async listDeadLetters(filter: DeadLetterFilter): Promise<DeadLetter[]> {
    return select(this.dead, filter)
  }

  async takeDeadLetters(filter: DeadLetterFilter): Promise<DeadLetter[]> {
    const taken = select(this.dead, filter)
    const ids = new Set(taken)
    const keep = this.dead.filter((d) => !ids.has(d))
    this.dead.length = 0
    this.dead.push(...keep)
    return taken
  }

  async claimDedup(key: string, windowMs: number): Promise<boolean> {
    const now = this.clock.now()
    if (this.dedup.has(key, now)) return false
    this.dedup.add(key, now + windowMs)
    return true
  }

  async isProcessed(key: string): Promise<boolean> {
    return this.processed.has(key, this.clock.now())
  }

  async markProcessed(key: string, windowMs: number): Promise<void> {
    this.processed.add(key, this.clock.now() + windowMs)
  }

  async depth(address: string): Promise<number[]> {
    const d = [0, 0, 0, 0]
    const r = this.routes.get(address)
    if (r === undefined) return d
    for (const s of r.sinks) {
      const x = s.depths()
      for (let i = 0; i < 4; i++) d[i] = (d[i] as number) + (x[i] as number)
    }
    d[2] = (d[2] as number) + r.held.size // held messages are counted as normal; their class is kept
    return d
  }

  /** Retries waiting on a timer. */
  get delayed(): number {
    return this.timers.size
  }

  async close(): Promise<void> {
    for (const t of this.timers) this.clock.clearTimeout(t)
    this.timers.clear()
    this.routes.clear()
    this.inboxes.clear()
  }
}

function select(all: readonly DeadLetter[], f: DeadLetterFilter): DeadLetter[] {
  const limit = f.limit ?? 1000
  const ids = f.ids === undefined ? undefined : new Set(f.ids)
  const out: DeadLetter[] = []
  for (const d of all) {
    if (out.length >= limit) break
    if (f.type !== undefined && d.envelope.type !== f.type) continue
    if (f.to !== undefined && d.envelope.to !== f.to) continue
    if (f.reason !== undefined && d.reason !== f.reason) continue
    if (ids !== undefined && !ids.has(d.id)) continue
    out.push(d)
  }
  return out
}

/** Creates an in-process transport; buses sharing it talk to each other. */
export function memoryTransport(options: MemoryTransportOptions = {}): MemoryTransport {
  return new MemoryTransport(options)
}
