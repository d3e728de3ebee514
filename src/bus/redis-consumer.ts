/**
 * The Redis transport's consumer side: one read loop per subscription (weighted budgets over the
 * four class streams in one pipelined non-blocking turn, a blocking read when all four are empty),
 * the hand-over of read entries to the sink (held in the settlement until their outcomes), and
 * the background jobs a consuming transport runs: the promoter that moves due retries into the
 * streams, the take-over of dead consumers' entries (redis-claim.ts) and the heartbeat that keeps
 * this consumer's long-running entries claimed.
 */
import type { Cluster, Redis } from 'ioredis'
import type { Clock } from '../time.js'
import { malformedLetter } from './envelope.js'
import { GROUP, heartbeat, reclaim } from './redis-claim.js'
import type { ResolvedRedisTransportOptions } from './redis-options.js'
import type { Settlement } from './redis-settle.js'
import { decode, type Entry, Malformed } from './redis-wire.js'
import type { Envelope, TransportSink } from './types.js'

type Client = Redis | Cluster

/** One address consumed for one bus instance (`inbox` is its consumer name in the group). */
export interface Subscription {
  address: string
  inbox: string
  sink: TransportSink
  reader: Client
  keys: string[]
  stopped: boolean
  loop: Promise<void>
  /** Messages per entry lately read (sizes the reads' COUNT, which counts entries). */
  perEntry: number
}

/**
 * The next turn's COUNT per class (into `out`): each class's budget, and the classes that filled
 * what they asked for share what the others left of theirs, in proportion to their budgets. When
 * every class is busy, the budgets alone. A short class keeps its own budget, so traffic that
 * arrives there is read at once; a turn asks at most twice readCount (and never more than the
 * sink has room for: the loop caps each count).
 */
export function nextCounts(
  budgets: readonly number[],
  asked: readonly number[],
  read: readonly number[],
  out: number[],
): void {
  let spare = 0
  let filled = 0
  for (let p = 0; p < budgets.length; p++) {
    const b = budgets[p] as number
    if ((read[p] as number) < (asked[p] as number)) spare += Math.max(0, b - (read[p] as number))
    else filled += b
  }
  for (let p = 0; p < budgets.length; p++) {
    const b = budgets[p] as number
    const full = (read[p] as number) >= (asked[p] as number)
    out[p] = full && filled > 0 ? b + Math.floor((spare * b) / filled) : b
  }
}

/** Entries in one XREADGROUP reply (null when the stream had none). */
function entriesIn(reply: unknown): number {
  if (!Array.isArray(reply)) return 0
  let n = 0
  for (const r of reply as Array<[string, unknown[]]>) n += r[1].length
  return n
}

// biome-ignore lint/suspicious/noExplicitAny: defineCommand adds methods ioredis does not type
const scripted = (c: Client): any => c

/** The read loops and background jobs of one transport. */
export class Consumer {
  /** The subscriptions being read. */
  readonly subs: Subscription[] = []
  private readonly clock: Clock
  private readonly claimIdle: number
  private readonly blockMs: number
  private readonly promoteEvery: number
  private readonly budgets: readonly number[]
  private timers: unknown[] = []
  private closed = false
  /** The take-over sweep under way (stop() waits for it: it may be handing entries to the sink). */
  private sweep: Promise<void> = Promise.resolve()

  constructor(
    o: ResolvedRedisTransportOptions,
    /** The command connection (set up by the transport before the first subscription). */
    private readonly cmd: () => Client,
    private readonly acks: Settlement,
    private readonly stream: (address: string, p: number) => string,
    private readonly delayedKey: (address: string) => string,
    /** Counts entries taken over from dead consumers (the transport's `reclaimed`). */
    private readonly onReclaimed: (n: number) => void,
    /** Counts consumer names removed by the periodic prune (the transport's `pruned`). */
    private readonly onPruned: (n: number) => void,
  ) {
    this.clock = o.clock
    this.claimIdle = o.claimIdle
    this.blockMs = o.blockMs
    this.promoteEvery = o.promoteEvery
    this.budgets = o.budgets
  }

  /** Starts reading `s` (and the background jobs with the first subscription). */
  start(s: Subscription): void {
    this.subs.push(s)
    s.loop = this.readLoop(s)
    if (this.timers.length === 0) this.startTimers()
  }

  /** Stops reading `s`: its last read is handed over and its acks sent before its reader goes. */
  async stop(s: Subscription): Promise<void> {
    s.stopped = true
    this.subs.splice(this.subs.indexOf(s), 1)
    await this.acks.flush()
    await s.loop
    // a take-over whose reply was on its way hands its entries over before the sink goes away
    // (regression: they reached a closed bus and stayed held, kept claimed by the heartbeat)
    await this.sweep
    await this.pruneSelf(s)
    s.reader.disconnect()
  }

  /**
   * Removes `s`'s consumer name from its groups when it holds nothing pending (what it still holds
   * keeps it: another bus takes that over, and the periodic prune removes the name afterwards).
   * Skipped while Redis is unreachable: a close does not wait for an outage to end.
   */
  private async pruneSelf(s: Subscription): Promise<void> {
    const cmd = this.cmd()
    if (cmd.status !== 'ready') return
    for (const k of s.keys)
      await scripted(cmd)
        .hpBusPrune(k, GROUP, s.inbox, 0)
        .catch(() => {})
  }

  /**
   * Removes the consumer names of closed and crashed buses from the groups of the addresses read
   * here: idle three take-over periods with nothing pending (regression: every bus instance ever
   * started stayed listed in XINFO CONSUMERS, since XREADGROUP creates names and nothing removed them).
   */
  private async pruneIdle(): Promise<void> {
    const keys = new Set<string>()
    for (const s of this.subs) if (!s.stopped) for (const k of s.keys) keys.add(k)
    // counted per key as it lands: a failure on one key does not lose the others' count
    for (const k of keys)
      this.onPruned(Number(await scripted(this.cmd()).hpBusPrune(k, GROUP, '', this.claimIdle * 3)))
  }

  /** Ends the background jobs (the subscriptions are stopped first). */
  close(): void {
    this.closed = true
    for (const t of this.timers) this.clock.clearTimeout(t)
    this.timers = []
  }

  /** Drops every reader without acking anything (a test's stand-in for a crash). */
  abandon(): void {
    this.closed = true
    for (const s of this.subs) {
      s.stopped = true
      s.reader.disconnect()
    }
    for (const t of this.timers) this.clock.clearTimeout(t)
  }

  // --- reading -------------------------------------------------------------------------------

  private async readLoop(s: Subscription): Promise<void> {
    const consumer = s.inbox
    // the last blocking read found every class empty after what it returned: block again at
    // once (one round trip per wake-up, which is what a request's latency waits on)
    let drained = false
    // this turn's COUNT per class: the weighted budgets, plus the share of the classes that came
    // back short last turn for those that filled theirs (work-conserving: one busy class of
    // single entries, like a dead consumer's packs split on take-over, reads readCount a turn,
    // not its weight's share of it)
    const counts = this.budgets.slice()
    const asked = [0, 0, 0, 0]
    const read = [0, 0, 0, 0]
    while (!s.stopped && !this.closed) {
      try {
        const room = s.sink.room()
        if (room <= 0) {
          await new Promise<void>((r) => setTimeout(r, 5))
          continue
        }
        // weighted budgets: each class may fill its share of the room in one pipelined turn
        const entries = Math.max(1, Math.floor(room / s.perEntry))
        if (!drained) {
          const pipe = s.reader.pipeline()
          for (let p = 0; p < 4; p++) {
            const n = Math.min(entries, counts[p] as number)
            asked[p] = n
            pipe.call('XREADGROUP', 'GROUP', GROUP, consumer, 'COUNT', n, 'STREAMS', s.keys[p] as string, '>')
          }
          const res = (await pipe.exec()) ?? []
          let got = 0
          for (let p = 0; p < 4; p++) {
            const reply = res[p]?.[1]
            got += this.deliverRead(s, reply)
            read[p] = entriesIn(reply)
          }
          nextCounts(this.budgets, asked, read, counts)
          if (got > 0 || s.stopped) continue
        }
        const count = Math.min(entries, this.budgets[0] as number)
        const blocked = (await s.reader.call(
          'XREADGROUP',
          'GROUP',
          GROUP,
          consumer,
          'COUNT',
          count,
          'BLOCK',
          this.blockMs,
          'STREAMS',
          ...s.keys,
          '>',
          '>',
          '>',
          '>',
        )) as Array<[string, Array<[string, string[]]>]> | null
        if (blocked !== null) this.deliverRead(s, blocked)
        drained = blocked === null || blocked.every(([, es]) => es.length < count)
      } catch (err) {
        drained = false
        if (s.stopped || this.closed) return
        // the connection is down or the group vanished: wait and try again (ioredis reconnects)
        if (String((err as Error).message).includes('NOGROUP')) await this.subscribeGroups(s)
        await new Promise<void>((r) => setTimeout(r, 200))
      }
    }
  }

  private async subscribeGroups(s: Subscription): Promise<void> {
    const cmd = this.cmd()
    for (const k of s.keys) await cmd.xgroup('CREATE', k, GROUP, '0', 'MKSTREAM').catch(() => {})
  }

  private deliverRead(s: Subscription, reply: unknown): number {
    if (!Array.isArray(reply)) return 0
    let n = 0
    for (const [stream, entries] of reply as Array<[string, Array<[string, string[] | null]>]>) {
      n += this.take(s, stream, entries)
    }
    return n
  }

  /**
   * Hands read entries to the sink. `deliveries` (take-overs only) holds each entry's delivery
   * count: every delivery beyond the first was a consumer that died holding the message, and
   * counts as an attempt, so the bus dead-letters a message that kills every consumer.
   */
  private take(
    s: Subscription,
    stream: string,
    entries: Array<[string, string[] | null]>,
    deliveries?: readonly number[],
  ): number {
    const out: Envelope[] = []
    const now = this.clock.now()
    for (let i = 0; i < entries.length; i++) {
      const [id, fields] = entries[i] as [string, string[] | null]
      if (fields === null) continue // deleted while pending
      const items = decode(fields)
      const extra = deliveries === undefined ? 0 : Math.max(1, deliveries[i] ?? 2) - 1
      const e: Entry = {
        stream,
        id,
        address: s.address,
        consumer: s.inbox,
        since: now,
        left: 0,
        retries: [],
        dead: [],
      }
      if (items.length === 0) {
        this.acks.ack(e) // a field this version does not know: nothing to run
        continue
      }
      const envs: Envelope[] = []
      for (const x of items) {
        if (x instanceof Malformed)
          e.dead.push(JSON.stringify(malformedLetter(x.raw, x.fault, id, s.address, now)))
        else envs.push(x)
      }
      e.left = envs.length
      if (envs.length === 0) {
        // nothing to run: its dead letters are stored as the entry is acked (one FINISH)
        e.left = 1
        this.acks.settled(e)
        continue
      }
      this.acks.hold(e)
      for (const env of envs) {
        env.queuedAt = Math.min(env.queuedAt, now)
        env.attempt += extra
        env.handle = e
        out.push(env)
      }
    }
    if (entries.length > 0) s.perEntry = Math.max(1, (s.perEntry + out.length / entries.length) / 2)
    if (out.length > 0) s.sink.deliver(out)
    return out.length
  }

  // --- background: promoter, take-over, heartbeat ---------------------------------------------

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
    // checked often: a dead consumer's entries come back within claimIdle + claimIdle/10 of their
    // last delivery or heartbeat (at claimIdle/5, a 5 s claimIdle's take-over of ~10k messages
    // ended 6.2 s after a kill -9 on a slow machine: the sweep's phase alone could add a second)
    every(Math.max(100, Math.floor(this.claimIdle / 10)), () => {
      const p = this.reclaimAll()
      this.sweep = p.catch(() => {})
      return p
    })
    every(Math.max(1000, this.claimIdle * 2), () => this.pruneIdle())
    const beat = Math.max(100, Math.floor(this.claimIdle / 3))
    every(beat, () => heartbeat(this.cmd(), this.acks.inflight.values(), this.clock.now() - beat))
  }

  private async promote(): Promise<void> {
    const now = this.clock.now()
    for (const address of new Set(this.subs.map((s) => s.address))) {
      const keys = [this.delayedKey(address), ...[0, 1, 2, 3].map((p) => this.stream(address, p))]
      await scripted(this.cmd()).hpBusPromote(...keys, now, 500)
    }
  }

  private async reclaimAll(): Promise<void> {
    for (const s of this.subs) {
      if (s.stopped) continue
      await reclaim(
        this.cmd(),
        {
          inbox: s.inbox,
          keys: s.keys,
          get stopped() {
            return s.stopped
          },
          room: () => s.sink.room(),
          take: (stream, entries, deliveries) => this.take(s, stream, entries, deliveries),
          taken: this.onReclaimed,
        },
        this.claimIdle,
      )
    }
  }
}
