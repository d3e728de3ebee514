/**
 * The Redis Streams transport (durable, at-least-once). Per address: one stream per priority
 * class read by a consumer group with weighted budgets (pipelined non-blocking reads sized by
 * the weights, a blocking read only when all four are empty), a delayed-retry sorted set moved
 * into the streams atomically by a Lua promoter, and a dead-letter stream. Acks are batched
 * (one pipeline of XACK+XDEL per stream per turn) and publishes are batched the same way.
 * A consumer that dies leaves its entries pending: others take them with XAUTOCLAIM after
 * `claimIdle`; a live consumer keeps long handlers' entries claimed with a heartbeat (XCLAIM
 * JUSTID to itself), like JetStream's `working()`. Replies travel over pub/sub (one channel per
 * bus instance, no polling). Keys share the hash tag `{address}`, so it runs on Redis Cluster.
 */
import type { ChainableCommander, Cluster, Redis } from 'ioredis'
import { assertKnownKeys } from '../options.js'
import { type Clock, type Duration, systemClock, toTimerMs } from '../time.js'
import { positiveInt } from './batch-options.js'
import { BURY, CLAIM, PROMOTE, RETRY } from './redis-scripts.js'
import type {
  Backpressure,
  DeadLetter,
  DeadLetterFilter,
  Envelope,
  Reply,
  Transport,
  TransportSink,
} from './types.js'

/** Options of `redisTransport()`. */
export interface RedisTransportOptions {
  /** A connected ioredis client (or Cluster), or a URL (ioredis is then loaded and owned). */
  redis: Redis | Cluster | string
  /** Key prefix. @default 'hp:bus:' */
  prefix?: string
  /** Pending entries idle this long are taken over from a dead consumer. @default '5s' */
  claimIdle?: Duration
  /** Longest blocking read (also how fast close() returns). @default '1s' */
  block?: Duration
  /** Most entries read per turn (split across classes by weight). @default 256 */
  readCount?: number
  /** How often due retries are moved into the streams. @default '50ms' */
  promoteEvery?: Duration
  /** Dead letters kept per address (approximate trimming). @default 100000 */
  maxDeadLetters?: number
  /** Class weights used to split `readCount` (urgent..low). @default [8, 4, 2, 1] */
  readWeights?: readonly number[]
  /** @default systemClock */
  clock?: Clock
}

type Client = Redis | Cluster
interface Handle {
  stream: string
  id: string
  since: number
}

interface Subscription {
  address: string
  inbox: string
  sink: TransportSink
  reader: Client
  keys: string[]
  stopped: boolean
  loop: Promise<void>
}

const GROUP = 'hp'
const KNOWN = [
  'redis',
  'prefix',
  'claimIdle',
  'block',
  'readCount',
  'promoteEvery',
  'maxDeadLetters',
  'readWeights',
  'clock',
] as const

const encode = (env: Envelope): string => {
  const { handle: _h, ...rest } = env
  return JSON.stringify(rest)
}

/** The Redis Streams transport. */
export class RedisTransport implements Transport {
  readonly kind = 'redis'
  private cmd!: Client
  private sub!: Client
  private owned = false
  private readonly url: string | undefined
  private readonly prefix: string
  private readonly clock: Clock
  private readonly claimIdle: number
  private readonly blockMs: number
  private readonly readCount: number
  private readonly promoteEvery: number
  private readonly maxDead: number
  private readonly budgets: number[]
  private readonly subs: Subscription[] = []
  private readonly inboxes = new Map<string, TransportSink>()
  private readonly inflight = new Map<string, Handle & { sub: Subscription }>()
  private pubQueue: Array<{
    stream: string
    data: string
    resolve: () => void
    reject: (e: unknown) => void
  }> = []
  private pubScheduled = false
  private ackQueue = new Map<string, string[]>()
  private ackScheduled = false
  private timers: unknown[] = []
  private closed = false
  private connecting: Promise<void> | undefined
  /** Entries taken over from dead consumers. */
  reclaimed = 0

  constructor(options: RedisTransportOptions) {
    assertKnownKeys(options, KNOWN, 'redisTransport options')
    if (typeof options.redis === 'string') this.url = options.redis
    else if (options.redis !== null && typeof options.redis === 'object') {
      this.cmd = options.redis
    } else throw new TypeError('redis must be an ioredis client, a Cluster or a URL string')
    this.prefix = options.prefix ?? 'hp:bus:'
    if (/[{}]/.test(this.prefix))
      throw new TypeError(`prefix must not contain braces; received ${this.prefix}`)
    this.clock = options.clock ?? systemClock
    this.claimIdle = toTimerMs(options.claimIdle ?? '5s', 'claimIdle')
    this.blockMs = toTimerMs(options.block ?? '1s', 'block')
    this.readCount = positiveInt(options.readCount ?? 256, 'readCount')
    this.promoteEvery = toTimerMs(options.promoteEvery ?? '50ms', 'promoteEvery')
    this.maxDead = positiveInt(options.maxDeadLetters ?? 100_000, 'maxDeadLetters')
    const w = options.readWeights ?? [8, 4, 2, 1]
    const total = w.reduce((a, b) => a + b, 0)
    this.budgets = w.map((x) => Math.max(1, Math.round((this.readCount * x) / total)))
  }

  private ready(): Promise<void> {
    this.connecting ??= (async () => {
      if (this.cmd === undefined) {
        const { Redis } = await import('ioredis')
        this.cmd = new Redis(this.url as string, { maxRetriesPerRequest: null })
        this.owned = true
      }
      this.cmd.defineCommand('hpBusRetry', { numberOfKeys: 2, lua: RETRY })
      this.cmd.defineCommand('hpBusBury', { numberOfKeys: 2, lua: BURY })
      this.cmd.defineCommand('hpBusPromote', { numberOfKeys: 5, lua: PROMOTE })
      this.cmd.defineCommand('hpBusClaim', { numberOfKeys: 1, lua: CLAIM })
      this.sub = this.cmd.duplicate()
      this.sub.on('messageBuffer', () => {})
      this.sub.on('message', (channel: string, text: string) => {
        const sink = this.inboxes.get(channel.slice(this.prefix.length + 2))
        if (sink !== undefined) sink.reply(JSON.parse(text) as Reply)
      })
    })()
    return this.connecting
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
    await this.ready()
    const keys = [0, 1, 2, 3].map((p) => this.stream(address, p))
    for (const k of keys) {
      try {
        await this.cmd.xgroup('CREATE', k, GROUP, '0', 'MKSTREAM')
      } catch (err) {
        if (!String((err as Error).message).includes('BUSYGROUP')) throw err
      }
    }
    await this.cmd.sadd(`${this.prefix}addresses`, address)
    await this.sub.subscribe(`${this.prefix}r:${inbox}`)
    this.inboxes.set(inbox, sink)
    const s: Subscription = {
      address,
      inbox,
      sink,
      reader: this.cmd.duplicate(),
      keys,
      stopped: false,
      loop: Promise.resolve(),
    }
    this.subs.push(s)
    s.loop = this.readLoop(s)
    if (this.timers.length === 0) this.startTimers()
  }

  async unsubscribe(address: string, inbox: string, sink: TransportSink): Promise<void> {
    const s = this.subs.find((x) => x.address === address && x.inbox === inbox && x.sink === sink)
    this.inboxes.delete(inbox)
    if (s === undefined) return
    s.stopped = true
    this.subs.splice(this.subs.indexOf(s), 1)
    await this.flushAcks()
    await s.loop
    s.reader.disconnect()
    await this.sub.unsubscribe(`${this.prefix}r:${inbox}`).catch(() => {})
  }

  // --- reading -------------------------------------------------------------------------------

  private async readLoop(s: Subscription): Promise<void> {
    const consumer = s.inbox
    while (!s.stopped && !this.closed) {
      try {
        const room = s.sink.room()
        if (room <= 0) {
          await new Promise<void>((r) => setTimeout(r, 5))
          continue
        }
        // weighted budgets: each class may fill its share of the room in one pipelined turn
        const pipe = s.reader.pipeline()
        for (let p = 0; p < 4; p++) {
          const n = Math.max(1, Math.min(room, this.budgets[p] as number))
          pipe.call('XREADGROUP', 'GROUP', GROUP, consumer, 'COUNT', n, 'STREAMS', s.keys[p] as string, '>')
        }
        const res = (await pipe.exec()) ?? []
        let got = 0
        for (let p = 0; p < 4; p++) got += this.take(s, res[p]?.[1])
        if (got > 0 || s.stopped) continue
        const blocked = (await s.reader.call(
          'XREADGROUP',
          'GROUP',
          GROUP,
          consumer,
          'COUNT',
          Math.min(room, this.budgets[0] as number),
          'BLOCK',
          this.blockMs,
          'STREAMS',
          ...s.keys,
          '>',
          '>',
          '>',
          '>',
        )) as Array<[string, Array<[string, string[]]>]> | null
        if (blocked !== null) for (const [key, entries] of blocked) this.take(s, [[key, entries]])
      } catch (err) {
        if (s.stopped || this.closed) return
        // the connection is down or the group vanished: wait and try again (ioredis reconnects)
        if (String((err as Error).message).includes('NOGROUP')) await this.subscribeGroups(s)
        await new Promise<void>((r) => setTimeout(r, 200))
      }
    }
  }

  private async subscribeGroups(s: Subscription): Promise<void> {
    for (const k of s.keys) await this.cmd.xgroup('CREATE', k, GROUP, '0', 'MKSTREAM').catch(() => {})
  }

  /**
   * Hands read entries to the sink. `deliveries` (take-overs only) holds each entry's delivery
   * count: every delivery beyond the first was a consumer that died holding the message, and
   * counts as an attempt, so the bus dead-letters a message that kills every consumer.
   */
  private take(s: Subscription, reply: unknown, deliveries?: readonly number[]): number {
    if (!Array.isArray(reply)) return 0
    const envs: Envelope[] = []
    const now = this.clock.now()
    for (const [stream, entries] of reply as Array<[string, Array<[string, string[] | null]>]>) {
      for (let i = 0; i < entries.length; i++) {
        const [id, fields] = entries[i] as [string, string[] | null]
        if (fields === null) continue // deleted while pending
        const env = JSON.parse(fields[1] as string) as Envelope
        env.queuedAt = Math.min(env.queuedAt, now)
        if (deliveries !== undefined) env.attempt += Math.max(1, deliveries[i] ?? 2) - 1
        const h = { stream, id, since: now, sub: s }
        env.handle = h
        this.inflight.set(`${stream}\u0000${id}`, h)
        envs.push(env)
      }
    }
    if (envs.length > 0) s.sink.deliver(envs)
    return envs.length
  }

  // --- background: promoter, reclaim, heartbeat -----------------------------------------------

  private startTimers(): void {
    const every = (ms: number, fn: () => Promise<void>) => {
      let running = false
      const tick = () => {
        if (this.closed) return
        if (!running) {
          running = true
          fn()
            .catch(() => {})
            .finally(() => {
              running = false
            })
        }
        this.timers.push(this.clock.setBackgroundTimeout(tick, ms))
        if (this.timers.length > 16) this.timers.splice(0, this.timers.length - 16)
      }
      this.timers.push(this.clock.setBackgroundTimeout(tick, ms))
    }
    every(this.promoteEvery, () => this.promote())
    // checked often: a dead consumer's entries come back within claimIdle + claimIdle/5
    every(Math.max(100, Math.floor(this.claimIdle / 5)), () => this.reclaim())
    every(Math.max(100, Math.floor(this.claimIdle / 3)), () => this.heartbeat())
  }

  private async promote(): Promise<void> {
    const now = this.clock.now()
    for (const address of new Set(this.subs.map((s) => s.address))) {
      const keys = [this.delayedKey(address), ...[0, 1, 2, 3].map((p) => this.stream(address, p))]
      // biome-ignore lint/suspicious/noExplicitAny: defineCommand adds methods ioredis does not type
      await (this.cmd as any).hpBusPromote(...keys, now, 500)
    }
  }

  private async reclaim(): Promise<void> {
    for (const s of this.subs) {
      if (s.stopped) continue
      // urgent first: reclaimed messages keep their class order
      for (const key of s.keys) {
        let room = s.sink.room()
        let cursor = '0-0'
        do {
          if (room <= 0) break
          // biome-ignore lint/suspicious/noExplicitAny: defineCommand adds methods ioredis does not type
          const r = (await (this.cmd as any).hpBusClaim(
            key,
            GROUP,
            s.inbox,
            this.claimIdle,
            cursor,
            Math.min(room, 200),
          )) as [string, Array<[string, string[] | null]>, number[]]
          cursor = r[0]
          if (r[1].length > 0) {
            this.reclaimed += r[1].length
            room -= this.take(s, [[key, r[1]]], r[2])
          }
        } while (cursor !== '0-0')
      }
    }
  }

  private async heartbeat(): Promise<void> {
    const old = this.clock.now() - Math.floor(this.claimIdle / 3)
    const byStream = new Map<string, { sub: Subscription; ids: string[] }>()
    for (const h of this.inflight.values()) {
      if (h.since > old) continue
      let g = byStream.get(h.stream)
      if (g === undefined) {
        g = { sub: h.sub, ids: [] }
        byStream.set(h.stream, g)
      }
      g.ids.push(h.id)
    }
    for (const [stream, g] of byStream) {
      await this.cmd.call('XCLAIM', stream, GROUP, g.sub.inbox, 0, ...g.ids, 'JUSTID')
    }
  }

  // --- writing -------------------------------------------------------------------------------

  publish(env: Envelope, _bp: Backpressure): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.pubQueue.push({ stream: this.stream(env.to, env.p), data: encode(env), resolve, reject })
      if (!this.pubScheduled) {
        this.pubScheduled = true
        // publishes of one turn share one pipeline
        setImmediate(() => void this.flushPublishes())
      }
    })
  }

  private async flushPublishes(): Promise<void> {
    this.pubScheduled = false
    const batch = this.pubQueue
    this.pubQueue = []
    try {
      await this.ready()
      const pipe = this.cmd.pipeline()
      for (const m of batch) pipe.xadd(m.stream, '*', 'm', m.data)
      const res = (await pipe.exec()) ?? []
      for (let i = 0; i < batch.length; i++) {
        const err = res[i]?.[0]
        if (err) (batch[i] as (typeof batch)[number]).reject(err)
        else (batch[i] as (typeof batch)[number]).resolve()
      }
    } catch (err) {
      for (const m of batch) m.reject(err)
    }
  }

  async broadcast(env: Envelope): Promise<void> {
    await this.ready()
    const addresses = await this.cmd.smembers(`${this.prefix}addresses`)
    for (const address of addresses) {
      await this.publish({ ...env, id: `${env.id}@${address}`, to: address }, 'block')
    }
  }

  async reply(to: string, reply: Reply): Promise<void> {
    await this.ready()
    await this.cmd.publish(`${this.prefix}r:${to}`, JSON.stringify(reply))
  }

  private handleOf(env: Envelope): Handle | undefined {
    const h = env.handle as Handle | undefined
    if (h === undefined) return undefined
    this.inflight.delete(`${h.stream}\u0000${h.id}`)
    env.handle = undefined
    return h
  }

  ack(env: Envelope): void {
    const h = this.handleOf(env)
    if (h === undefined) return
    let ids = this.ackQueue.get(h.stream)
    if (ids === undefined) {
      ids = []
      this.ackQueue.set(h.stream, ids)
    }
    ids.push(h.id)
    if (!this.ackScheduled) {
      this.ackScheduled = true
      setImmediate(() => void this.flushAcks())
    }
  }

  private async flushAcks(): Promise<void> {
    this.ackScheduled = false
    if (this.ackQueue.size === 0) return
    const q = this.ackQueue
    this.ackQueue = new Map()
    const pipe = this.cmd.pipeline()
    for (const [stream, ids] of q) {
      pipe.xack(stream, GROUP, ...ids)
      pipe.xdel(stream, ...ids)
    }
    // a failed ack only means a redelivery later (at-least-once)
    await pipe.exec().catch(() => {})
  }

  retry(env: Envelope, delayMs: number): void {
    const h = this.handleOf(env)
    env.queuedAt = this.clock.now() + delayMs
    const member = `${env.p}${encode(env)}`
    const delayed = this.delayedKey(env.to)
    const score = this.clock.now() + delayMs
    const run = async () => {
      await this.ready()
      if (h === undefined) await this.cmd.zadd(delayed, score, member)
      // biome-ignore lint/suspicious/noExplicitAny: defineCommand adds methods ioredis does not type
      else await (this.cmd as any).hpBusRetry(h.stream, delayed, GROUP, h.id, score, member)
    }
    run().catch(() => {})
  }

  deadLetter(letter: DeadLetter): void {
    const h = this.handleOf(letter.envelope)
    const data = JSON.stringify({ ...letter, envelope: JSON.parse(encode(letter.envelope)) })
    const dlq = this.dlqKey(letter.envelope.to)
    const run = async () => {
      await this.ready()
      if (h === undefined) await this.cmd.xadd(dlq, 'MAXLEN', '~', this.maxDead, '*', 'd', data)
      // biome-ignore lint/suspicious/noExplicitAny: defineCommand adds methods ioredis does not type
      else await (this.cmd as any).hpBusBury(h.stream, dlq, GROUP, h.id, data, this.maxDead)
    }
    run().catch(() => {})
  }

  private async readDead(
    filter: DeadLetterFilter,
  ): Promise<Array<{ key: string; sid: string; d: DeadLetter }>> {
    await this.ready()
    const addresses = filter.to !== undefined ? [filter.to] : [...new Set(this.subs.map((s) => s.address))]
    const limit = filter.limit ?? 1000
    const ids = filter.ids === undefined ? undefined : new Set(filter.ids)
    const out: Array<{ key: string; sid: string; d: DeadLetter }> = []
    for (const address of addresses) {
      const key = this.dlqKey(address)
      const entries = (await this.cmd.xrange(key, '-', '+')) as Array<[string, string[]]>
      for (const [sid, fields] of entries) {
        if (out.length >= limit) return out
        const d = JSON.parse(fields[1] as string) as DeadLetter
        if (filter.type !== undefined && d.envelope.type !== filter.type) continue
        if (filter.reason !== undefined && d.reason !== filter.reason) continue
        if (ids !== undefined && !ids.has(d.id)) continue
        out.push({ key, sid, d })
      }
    }
    return out
  }

  async listDeadLetters(filter: DeadLetterFilter): Promise<DeadLetter[]> {
    await this.flushAcks()
    return (await this.readDead(filter)).map((x) => x.d)
  }

  async takeDeadLetters(filter: DeadLetterFilter): Promise<DeadLetter[]> {
    const found = await this.readDead(filter)
    const taken: DeadLetter[] = []
    for (const x of found) {
      // XDEL answers 1 only to the caller that removed it: two replays never both take a letter
      if ((await this.cmd.xdel(x.key, x.sid)) === 1) taken.push(x.d)
    }
    return taken
  }

  async claimDedup(key: string, windowMs: number): Promise<boolean> {
    await this.ready()
    return (await this.cmd.set(`${this.prefix}dedup:${key}`, '1', 'PX', Math.max(1, windowMs), 'NX')) === 'OK'
  }

  async isProcessed(key: string): Promise<boolean> {
    await this.ready()
    return (await this.cmd.exists(`${this.prefix}done:${key}`)) === 1
  }

  /** The processed-set key of `message` (its `dedupKey`, else its id), for a handler's own Lua. */
  processedKey(message: { id: string; dedupKey?: string }): string {
    return `${this.prefix}done:${message.dedupKey ?? message.id}`
  }

  /**
   * Adds the processed-set mark of `message` to the handler's own `multi()`: a side effect written
   * to this Redis in the same transaction is then exactly once, a crash or kill -9 at any point
   * included (the transaction applies both or neither; a redelivery finds the mark and is acked
   * without running). `windowMs` should be the bus's `processedWindow`.
   */
  markProcessedIn(
    tx: ChainableCommander,
    message: { id: string; dedupKey?: string },
    windowMs = 3_600_000,
  ): ChainableCommander {
    return tx.set(this.processedKey(message), '1', 'PX', Math.max(1, windowMs))
  }

  async markProcessed(key: string, windowMs: number): Promise<void> {
    await this.ready()
    await this.cmd.set(`${this.prefix}done:${key}`, '1', 'PX', Math.max(1, windowMs))
  }

  async depth(address: string): Promise<number[]> {
    await this.ready()
    const pipe = this.cmd.pipeline()
    for (let p = 0; p < 4; p++) pipe.xlen(this.stream(address, p))
    const res = (await pipe.exec()) ?? []
    return res.map((r) => Number(r[1] ?? 0))
  }

  /** Messages waiting for a retry time, for `address`. */
  async delayedCount(address: string): Promise<number> {
    await this.ready()
    return this.cmd.zcard(this.delayedKey(address))
  }

  /** Drops every connection without acking anything (a test's stand-in for a crash). */
  abandon(): void {
    this.closed = true
    for (const s of this.subs) {
      s.stopped = true
      s.reader.disconnect()
    }
    for (const t of this.timers) this.clock.clearTimeout(t)
    this.sub?.disconnect()
    this.cmd?.disconnect()
  }

  async close(): Promise<void> {
    if (this.closed) return
    for (const s of [...this.subs]) await this.unsubscribe(s.address, s.inbox, s.sink)
    this.closed = true
    for (const t of this.timers) this.clock.clearTimeout(t)
    this.timers = []
    await this.flushAcks()
    if (this.pubQueue.length > 0) await this.flushPublishes()
    this.sub?.disconnect()
    if (this.owned) await this.cmd.quit().catch(() => {})
  }
}

/** Creates a Redis Streams transport. */
export function redisTransport(options: RedisTransportOptions): RedisTransport {
  return new RedisTransport(options)
}
