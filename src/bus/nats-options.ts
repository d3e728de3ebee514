/**
 * Options of the NATS JetStream transport, their resolver, and the names it derives from the
 * stream name: subjects, durable consumer names and KV buckets. Addresses and inboxes may hold
 * characters NATS forbids in a subject token or a consumer name ('.', '#', spaces...), so each
 * is escaped into [A-Za-z0-9_-] plus `~xxxx` (the UTF-16 unit in hex), reversibly.
 */
import { assertKnownKeys } from '../options.js'
import { type Clock, type Duration, systemClock, toTimerMs } from '../time.js'
import { positiveInt } from './batch-options.js'

/**
 * The part of a `nats` v2 NatsConnection the transport uses, written out so the published types
 * do not name the optional `nats` package (a memory-only user compiles without it).
 */
export interface NatsConnectionLike {
  jetstream(): unknown
  jetstreamManager(): Promise<unknown>
  subscribe(subject: string, options?: unknown): unknown
  publish(subject: string, data?: Uint8Array): void
  flush(): Promise<void>
  close(): Promise<void>
}

/** Options of `natsTransport()`. */
export interface NatsTransportOptions {
  /**
   * NATS server URL(s): 'nats://127.0.0.1:4222', a comma-separated list or an array. The `nats`
   * package (v2, an optional peer dependency) is then loaded and the connection owned (closed by
   * `close()`). Give either `servers` or `connection`.
   */
  servers?: string | readonly string[]
  /** A connection from the `nats` package (v2) you own: `close()` leaves it open. */
  connection?: NatsConnectionLike
  /**
   * Name of the JetStream stream holding the messages; also the first subject token and the
   * prefix of the dead-letter stream (`<stream>_dlq`) and the KV buckets (`<stream>_dedup`,
   * `<stream>_done`). Letters, digits, '_' and '-'. @default 'hotpath_bus'
   */
  stream?: string
  /** JetStream storage of the streams. @default 'file' */
  storage?: 'file' | 'memory'
  /**
   * Unacknowledged messages come back after this long (JetStream `ack_wait`): how fast another
   * consumer takes over from one that died. Long handlers are kept with in-progress acks
   * (`working()`) every third of it. The Redis transport's `claimIdle`. @default '5s'
   */
  ackWait?: Duration
  /**
   * Deliveries the server makes at most (JetStream `max_deliver`); a message it gives up on is
   * moved to the dead letters ('failed'). Keep it above every handler's retry attempts: it is the
   * net for messages whose consumer dies each time (a poison message). @default 20
   */
  maxDeliver?: number
  /**
   * Unacknowledged messages per class and address (JetStream `max_ack_pending`), shared by every
   * process consuming the address: the flow control of the durable queue. @default 1000
   */
  maxAckPending?: number
  /**
   * Messages each class's pull asks for at once (the client asks again when a quarter is left).
   * Every class has its own lane, so there are no weights to split it by: the bus's scheduler
   * weighs the classes. @default 512
   */
  readCount?: number
  /** Dead letters kept per address (older ones are dropped). @default 100000 */
  maxDeadLetters?: number
  /**
   * How long producer dedup keys and the consumer processed-set live in their KV buckets (the
   * buckets' `max_age`); keep it at or above the bus's `dedupWindow` and `processedWindow`. A
   * dedup window above it is refused. @default '1h'
   */
  keyTtl?: Duration
  /** @default systemClock */
  clock?: Clock
}

const KNOWN = [
  'servers',
  'connection',
  'stream',
  'storage',
  'ackWait',
  'maxDeliver',
  'maxAckPending',
  'readCount',
  'maxDeadLetters',
  'keyTtl',
  'clock',
] as const

/** Validates and freezes the options of `natsTransport()`. */
export function resolveNatsOptions(o: NatsTransportOptions) {
  assertKnownKeys(o, KNOWN, 'natsTransport options')
  if (o === null || typeof o !== 'object') throw new TypeError('natsTransport options must be an object')
  let servers: string[] | undefined
  if (o.connection !== undefined) {
    if (o.servers !== undefined) throw new TypeError('natsTransport: give servers or connection, not both')
    if (typeof (o.connection as { jetstream?: unknown })?.jetstream !== 'function') {
      throw new TypeError('connection must be a NatsConnection from the nats package (v2)')
    }
  } else {
    const list = typeof o.servers === 'string' ? o.servers.split(',') : o.servers
    if (!Array.isArray(list) || list.length === 0) {
      throw new TypeError(
        `natsTransport needs servers (a NATS URL such as 'nats://127.0.0.1:4222') or connection; received ${String(o.servers)}`,
      )
    }
    servers = list.map((s) => String(s).trim()).filter((s) => s.length > 0)
    if (servers.length === 0) throw new TypeError('servers must name at least one NATS server')
  }
  const stream = o.stream ?? 'hotpath_bus'
  if (typeof stream !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(stream)) {
    throw new TypeError(
      `stream must be 1-64 letters, digits, '_' or '-' (it names streams and subjects); received ${JSON.stringify(stream)}`,
    )
  }
  const storage = o.storage ?? 'file'
  if (storage !== 'file' && storage !== 'memory') {
    throw new TypeError(`storage must be 'file' or 'memory'; received ${String(storage)}`)
  }
  return Object.freeze({
    servers,
    connection: o.connection,
    stream,
    storage,
    ackWait: toTimerMs(o.ackWait ?? '5s', 'ackWait'),
    maxDeliver: positiveInt(o.maxDeliver ?? 20, 'maxDeliver'),
    maxAckPending: positiveInt(o.maxAckPending ?? 1000, 'maxAckPending'),
    readCount: positiveInt(o.readCount ?? 512, 'readCount'),
    maxDeadLetters: positiveInt(o.maxDeadLetters ?? 100_000, 'maxDeadLetters'),
    keyTtl: toTimerMs(o.keyTtl ?? '1h', 'keyTtl'),
    clock: o.clock ?? systemClock,
  })
}

/** Resolved options. */
export type ResolvedNatsOptions = ReturnType<typeof resolveNatsOptions>

/** Escapes `s` into a subject token / consumer name: [A-Za-z0-9_-] kept, the rest `~xxxx`. */
export function escapeName(s: string): string {
  let out = ''
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    const ch = s[i] as string
    if ((c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c === 45)
      out += ch
    else out += `~${c.toString(16).padStart(4, '0')}`
  }
  return out
}

/** Reverses `escapeName`. */
export function unescapeName(s: string): string {
  return s.replace(/~([0-9a-f]{4})/g, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)))
}

/** The subjects, consumer names and streams of one transport. */
export class NatsNames {
  readonly dlqStream: string
  readonly dedupBucket: string
  readonly doneBucket: string
  constructor(readonly stream: string) {
    this.dlqStream = `${stream}_dlq`
    this.dedupBucket = `${stream}_dedup`
    this.doneBucket = `${stream}_done`
  }
  /** Subject of `address`'s class `p`. */
  message(address: string, p: number): string {
    return `${this.stream}.m.${escapeName(address)}.${p}`
  }
  /** The four class subjects of `address`. */
  classes(address: string): string {
    return `${this.stream}.m.${escapeName(address)}.*`
  }
  /** Every message subject. */
  get messages(): string {
    return `${this.stream}.m.>`
  }
  /** Durable consumer of `address`'s class `p` (the class first: names are parsed back). */
  consumer(address: string, p: number): string {
    return `p${p}_${escapeName(address)}`
  }
  /** The address of a class-0 consumer name, or undefined for another name. */
  addressOf(consumer: string): string | undefined {
    return consumer.startsWith('p0_') ? unescapeName(consumer.slice(3)) : undefined
  }
  dlq(address: string): string {
    return `${this.stream}.dlq.${escapeName(address)}`
  }
  get dlqs(): string {
    return `${this.stream}.dlq.>`
  }
  reply(inbox: string): string {
    return `${this.stream}.r.${escapeName(inbox)}`
  }
  /** Where the server announces a message it stopped delivering after `max_deliver`. */
  get maxDeliveries(): string {
    return `$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.${this.stream}.*`
  }
}
