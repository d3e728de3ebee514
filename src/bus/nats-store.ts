/**
 * What the NATS transport keeps beside the message stream: the dead letters (their own stream,
 * one subject per address, `max_msgs_per_subject` bounding each), the producer dedup keys and the
 * consumer processed-set (two KV buckets whose values are expiry times, so one bucket serves any
 * window up to its `max_age`), and the net under `max_deliver`: the server's advisory for a
 * message it gave up on, turned into a dead letter by one process of the queue group.
 */
import type { JetStreamClient, JetStreamManager, KV, NatsConnection, Subscription } from 'nats'
import { jsonObject, parseDeadLetter } from './envelope.js'
import { BusTransportError } from './errors.js'
import type { NatsNames, ResolvedNatsOptions } from './nats-options.js'
import type { DeadLetter, DeadLetterFilter, Envelope } from './types.js'

const text = new TextEncoder()
const untext = new TextDecoder()

/** JSON bytes of an envelope without its transport handle. */
export function encodeEnvelope(env: Envelope): Uint8Array {
  const { handle: _h, ...rest } = env
  return text.encode(JSON.stringify(rest))
}

export function decode<T>(data: Uint8Array): T {
  return JSON.parse(untext.decode(data)) as T
}

/** KV keys allow [-/_=.a-zA-Z0-9]; ours are any string: base64url. */
const kvKey = (key: string) => Buffer.from(key).toString('base64url')

/** The 'not found' and 'wrong last sequence' answers, across server versions. */
const isNotFound = (err: unknown) => /not found|no message/i.test(String((err as Error)?.message))

/** No stream answers the subject (503 no responders) or the stream is gone: the server lost it. */
export const isStreamGone = (err: unknown) =>
  (err as { code?: string })?.code === '503' || /stream not found/i.test(String((err as Error)?.message))

/** The dead letters, keys and advisories of one transport. */
export class NatsStore {
  private dedup: Promise<KV> | undefined
  private done: Promise<KV> | undefined
  private advisory: Subscription | undefined

  constructor(
    private readonly nc: NatsConnection,
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly names: NatsNames,
    private readonly o: ResolvedNatsOptions,
  ) {}

  // --- dead letters --------------------------------------------------------------------------

  /** Stores `letter` (resolves once JetStream has it). */
  async bury(letter: DeadLetter): Promise<void> {
    const { handle: _h, ...envelope } = letter.envelope
    await this.js.publish(this.names.dlq(envelope.to), text.encode(JSON.stringify({ ...letter, envelope })))
  }

  private async read(
    addresses: readonly string[],
    filter: DeadLetterFilter,
  ): Promise<Array<{ seq: number; d: DeadLetter }>> {
    const limit = filter.limit ?? 1000
    const ids = filter.ids === undefined ? undefined : new Set(filter.ids)
    const out: Array<{ seq: number; d: DeadLetter }> = []
    for (const address of addresses) {
      const subject = this.names.dlq(address)
      let seq = 0
      for (;;) {
        if (out.length >= limit) return out
        let m: { seq: number; data: Uint8Array }
        try {
          // STREAM.MSG.GET takes next_by_subj (nats-server 2.9+); the v2 client's type omits it
          const next = { seq: seq + 1, next_by_subj: subject } as unknown as { seq: number }
          m = await this.jsm.streams.getMessage(this.names.dlqStream, next)
        } catch (err) {
          if (isNotFound(err)) break
          throw err
        }
        seq = m.seq
        const d = parseDeadLetter(untext.decode(m.data))
        if (d === undefined) continue // not a dead letter (someone else's publish)
        if (filter.type !== undefined && d.envelope.type !== filter.type) continue
        if (filter.reason !== undefined && d.reason !== filter.reason) continue
        if (ids !== undefined && !ids.has(d.id)) continue
        out.push({ seq, d })
      }
    }
    return out
  }

  /** Dead letters of `addresses` matching `filter`, oldest first per address. */
  async list(addresses: readonly string[], filter: DeadLetterFilter): Promise<DeadLetter[]> {
    return (await this.read(addresses, filter)).map((x) => x.d)
  }

  /** Removes and returns matching dead letters; two callers never both take one. */
  async take(addresses: readonly string[], filter: DeadLetterFilter): Promise<DeadLetter[]> {
    const taken: DeadLetter[] = []
    for (const x of await this.read(addresses, filter)) {
      try {
        // the server deletes a sequence once: the loser of a race gets 'no message found'
        if (await this.jsm.streams.deleteMessage(this.names.dlqStream, x.seq, false)) taken.push(x.d)
      } catch (err) {
        if (!isNotFound(err)) throw err
      }
    }
    return taken
  }

  /**
   * Turns the server's max-deliveries advisories into dead letters. A queue group: one process
   * of those consuming the stream handles each advisory.
   */
  watchMaxDeliveries(): void {
    if (this.advisory !== undefined) return
    this.advisory = this.nc.subscribe(this.names.maxDeliveries, {
      queue: `${this.names.stream}_maxdeliver`,
      // any client may publish on the subject: what is not an advisory is ignored (a throw here
      // would close the whole connection)
      callback: (_err, m) => {
        const { stream_seq: seq, deliveries } = jsonObject(untext.decode(m.data)) ?? {}
        if (Number.isSafeInteger(seq) && Number.isSafeInteger(deliveries))
          this.buryStuck(seq as number, deliveries as number).catch(() => {})
      },
    })
  }

  private async buryStuck(seq: number, deliveries: number): Promise<void> {
    let data: Uint8Array
    try {
      data = (await this.jsm.streams.getMessage(this.names.stream, { seq })).data
    } catch (err) {
      if (isNotFound(err)) return // acked or buried meanwhile
      throw err
    }
    const envelope = decode<Envelope>(data)
    const attempts = envelope.attempt + deliveries - 1
    await this.bury({
      id: envelope.id,
      envelope: { ...envelope, attempt: attempts },
      reason: 'failed',
      attempts,
      error: `delivered ${deliveries} times without an ack (maxDeliver ${this.o.maxDeliver}): its consumers died or stalled on it`,
      at: this.o.clock.now(),
    })
    await this.jsm.streams.deleteMessage(this.names.stream, seq, false).catch(() => false)
  }

  // --- keys ----------------------------------------------------------------------------------

  /**
   * Runs `fn` on the bucket `name` (opened, made if missing, once). A bucket that failed to open
   * is opened again next time, and one the server lost (a restart of a memory-storage server)
   * is made again and `fn` run once more.
   */
  private async onBucket<T>(which: 'dedup' | 'done', fn: (kv: KV) => Promise<T>): Promise<T> {
    const open = () => {
      const p = this.js.views.kv(which === 'dedup' ? this.names.dedupBucket : this.names.doneBucket, {
        history: 1,
        ttl: this.o.keyTtl,
        storage: this.o.storage as never,
      })
      this[which] = p
      p.catch(() => {
        if (this[which] === p) this[which] = undefined
      })
      return p
    }
    try {
      return await fn(await (this[which] ?? open()))
    } catch (err) {
      if (!isStreamGone(err)) throw err
      return fn(await open())
    }
  }

  /** True the first time `key` is claimed within `windowMs`. */
  async claimDedup(key: string, windowMs: number): Promise<boolean> {
    if (windowMs > this.o.keyTtl) {
      throw new RangeError(
        `dedup window ${windowMs}ms is above the NATS transport's keyTtl (${this.o.keyTtl}ms); raise keyTtl or lower the bus's dedupWindow`,
      )
    }
    return this.onBucket('dedup', (kv) => this.claim(kv, kvKey(key), windowMs))
  }

  private async claim(kv: KV, k: string, windowMs: number): Promise<boolean> {
    const now = this.o.clock.now()
    const until = text.encode(String(now + windowMs))
    try {
      await kv.create(k, until)
      return true
    } catch (err) {
      if (!/wrong last sequence|key exists/i.test(String((err as Error).message))) throw err
    }
    // the key is there: a claim whose window has passed may be taken again (compare and set)
    const e = await kv.get(k)
    if (e === null) return false
    if (e.operation === 'PUT' && Number(untext.decode(e.value)) > now) return false
    try {
      await kv.update(k, until, e.revision)
      return true
    } catch {
      return false
    }
  }

  /** Was `key`'s side effect recorded (and not yet expired)? */
  async isProcessed(key: string): Promise<boolean> {
    const e = await this.onBucket('done', (kv) => kv.get(kvKey(key)))
    return e !== null && e.operation === 'PUT' && Number(untext.decode(e.value)) > this.o.clock.now()
  }

  /** Records `key`'s side effect for `windowMs` (at most keyTtl). */
  async markProcessed(key: string, windowMs: number): Promise<void> {
    const until = this.o.clock.now() + Math.min(windowMs, this.o.keyTtl)
    await this.onBucket('done', (kv) => kv.put(kvKey(key), text.encode(String(until))))
  }

  close(): void {
    this.advisory?.unsubscribe()
    this.advisory = undefined
  }
}

/** Creates `name` with `config`, or checks that the stream of that name has our subjects. */
export async function ensureStream(
  jsm: JetStreamManager,
  config: { name: string; subjects: string[] } & Record<string, unknown>,
): Promise<void> {
  try {
    const info = await jsm.streams.info(config.name)
    const subjects = info.config.subjects ?? []
    if (!holds(subjects, config.subjects)) {
      throw new BusTransportError(
        `JetStream stream "${config.name}" exists with subjects ${JSON.stringify(subjects)}, not ${JSON.stringify(config.subjects)}`,
        'give the transport another stream name, or delete that stream',
      )
    }
    return
  } catch (err) {
    if (!isNotFound(err)) throw err
  }
  try {
    await jsm.streams.add(config as never)
  } catch (err) {
    // another client created it first: nats-server answers "already in use" or, racing, "subjects
    // overlap with an existing stream" (regression: the second broke a transport that connected
    // beside another one to a fresh server); it is fine when the stream is there with our subjects
    const there = await jsm.streams.info(config.name).catch(() => undefined)
    if (there === undefined || !holds(there.config.subjects ?? [], config.subjects)) throw err
  }
}

/** Whether a stream's `subjects` include every one of `wanted`. */
function holds(subjects: readonly string[], wanted: readonly string[]): boolean {
  return wanted.every((s) => subjects.includes(s))
}

/** Makes the transport's message and dead-letter streams, or checks the ones there. */
export async function ensureStreams(
  jsm: JetStreamManager,
  names: NatsNames,
  o: ResolvedNatsOptions,
): Promise<void> {
  await ensureStream(jsm, {
    name: names.stream,
    subjects: [names.messages],
    retention: 'workqueue',
    storage: o.storage,
  })
  await ensureStream(jsm, {
    name: names.dlqStream,
    subjects: [names.dlqs],
    retention: 'limits',
    storage: o.storage,
    max_msgs_per_subject: o.maxDeadLetters,
    discard: 'old',
  })
}
