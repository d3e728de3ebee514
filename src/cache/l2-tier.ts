/**
 * The L2 tier as the engine sees it: reads (with the fill guard that keeps a read racing an
 * invalidation from putting the old value back into L1), writes with their invalidations, and
 * the replay of what could not be written while L2 was unavailable. Everything Redis-specific
 * lives in RedisStore; everything about L1 and counters goes through the engine's verbs.
 */
import type { CacheEngine, Stale } from './engine.js'
import { type Invalidation, InvalidationBus } from './invalidation.js'
import { FAIL, type Fail, REFUSED, type Refused } from './l2-guard.js'
import type { ResolvedPolicy } from './option-types.js'
import { type AnyRedis, RedisStore } from './redis-store.js'
import { decode, type WireEntry } from './serializer.js'

/** Marks "no usable value" inside the engine (undefined is a legal loader result). */
export const NOTHING: unique symbol = Symbol('hotpath.nothing')
/** The type of NOTHING. */
export type Nothing = typeof NOTHING
const RESOLVED_NOTHING: Promise<unknown> = Promise.resolve(NOTHING)

/** A read's registration with the fill guard. */
interface Ticket {
  full: string
  epoch: number
}

/** Where a stale L2 copy found by a read is handed back. */
export interface StaleBox {
  s: Stale | undefined
}

/** The L2 tier facade of one engine. */
export class L2Tier {
  readonly store: RedisStore
  readonly bus: InvalidationBus | undefined
  private readonly channel: string
  /**
   * Bumped by invalidations that reach unknown keys (tags, clear, a bus gap). An L2 read fills
   * L1 only if this did not move and its own key was not written or invalidated meanwhile.
   */
  private epoch = 0
  /** Keys with L2 reads in flight, and whether one of them was invalidated meanwhile. */
  private readonly reads = new Map<string, { n: number; dirty: boolean }>()
  /**
   * L2 writes that could not be made (breaker open, timeout), latest per target, replayed as
   * invalidations in order when the breaker closes.
   */
  private readonly replay = new Map<string, () => Promise<unknown>>()
  private replayDropped = 0

  constructor(
    private readonly engine: CacheEngine,
    client: AnyRedis,
    withBus: boolean,
  ) {
    const o = engine.options
    const r = o.redis as NonNullable<typeof o.redis>
    this.channel = `${o.prefix}__inv`
    this.store = new RedisStore({
      client,
      prefix: o.prefix,
      timeout: r.timeout,
      breakerThreshold: r.breakerThreshold,
      breakerProbeInterval: r.breakerProbeInterval,
      clock: o.clock,
      onError: (op, error) => engine.l2Error(op, error),
      onRefused: (op, error) => engine.l2Error(op, error),
      onBreaker: (state) => {
        if (state === 'closed') void this.replayWrites()
        engine.breakerChanged(state)
      },
    })
    if (withBus) {
      this.bus = new InvalidationBus({
        client,
        channel: this.channel,
        onMessage: (msg) => engine.applyInvalidation(msg),
        onMalformed: (error) => engine.l2Error('invalidation', error),
        onGap: () => engine.busGap(),
      })
    }
  }

  // --- reads --------------------------------------------------------------------------------

  /**
   * Reads a fresh value from L2, filling L1; NOTHING when absent, stale or unusable. Stale
   * entries go to `staleOut`. One `.then` and no async frames on the common path.
   */
  read(full: string, policy: ResolvedPolicy, staleOut?: StaleBox, countMiss = true): Promise<unknown> {
    if (policy.skipL2) return RESOLVED_NOTHING
    if (!this.engine.hasL1) {
      return this.store.get(full).then((buf) => this.afterRead(full, buf, policy, false, staleOut, countMiss))
    }
    const ticket = this.beginRead(full)
    return this.store
      .get(full)
      .then((buf) => this.afterRead(full, buf, policy, this.endRead(ticket), staleOut, countMiss))
  }

  /**
   * The lock's look at L2 again for a load whose L2 miss was counted already: a value found is
   * counted as a hit, nothing found is not counted again (regression: each recheck, and each
   * poll of a caller waiting for the lock holder's value, counted one more L2 miss).
   */
  recheck(full: string, policy: ResolvedPolicy): Promise<unknown> {
    return this.read(full, policy, undefined, false)
  }

  /** Reads many keys with one MGET; each slot holds the value or NOTHING. */
  async readMany(fulls: readonly string[], policy: ResolvedPolicy): Promise<unknown[]> {
    const out: unknown[] = fulls.map(() => NOTHING)
    if (policy.skipL2 || fulls.length === 0) return out
    const tickets = this.engine.hasL1 ? fulls.map((f) => this.beginRead(f)) : undefined
    const bufs = await this.store.mget(fulls)
    const fills = tickets === undefined ? undefined : tickets.map((t) => this.endRead(t))
    if (bufs === FAIL || bufs === REFUSED) return out
    for (let j = 0; j < fulls.length; j++) {
      out[j] = await this.afterRead(
        fulls[j] as string,
        bufs[j] ?? null,
        policy,
        fills?.[j] ?? false,
        undefined,
        true,
      )
    }
    return out
  }

  private beginRead(full: string): Ticket {
    const r = this.reads.get(full)
    if (r === undefined) this.reads.set(full, { n: 1, dirty: false })
    else r.n++
    return { full, epoch: this.epoch }
  }

  /** Ends a read; true when its value may fill L1 (nothing invalidated it meanwhile). */
  private endRead(ticket: Ticket): boolean {
    const r = this.reads.get(ticket.full)
    const dirty = r?.dirty === true
    if (r !== undefined && --r.n === 0) this.reads.delete(ticket.full)
    return !dirty && ticket.epoch === this.epoch
  }

  /** A key was written or invalidated: reads of it in flight must not fill L1. */
  touchKey(full: string): void {
    const r = this.reads.get(full)
    if (r !== undefined) r.dirty = true
  }

  /** Something invalidated keys we cannot name (tags, clear, a bus gap): no read in flight fills L1. */
  touchAll(): void {
    this.epoch++
  }

  private afterRead(
    full: string,
    buf: Buffer | null | Fail | Refused,
    policy: ResolvedPolicy,
    fill: boolean,
    staleOut: StaleBox | undefined,
    countMiss: boolean,
  ): unknown {
    if (buf === FAIL) return NOTHING
    if (buf === null || buf === REFUSED) {
      if (countMiss) this.engine.l2Miss(full)
      return NOTHING
    }
    let entry: WireEntry
    try {
      entry = decode(buf)
    } catch (err) {
      this.engine.l2Error('decode', err)
      if (countMiss) this.engine.l2Miss(full)
      return NOTHING
    }
    if (policy.schema === undefined)
      return this.engine.acceptL2(full, entry, entry.value, fill, staleOut, countMiss)
    const r = policy.schema['~standard'].validate(entry.value)
    if (r instanceof Promise)
      return r.then((res) => this.validated(full, entry, res, fill, staleOut, countMiss))
    return this.validated(full, entry, r, fill, staleOut, countMiss)
  }

  private validated(
    full: string,
    entry: WireEntry,
    r: { value?: unknown; issues?: ReadonlyArray<unknown> },
    fill: boolean,
    staleOut: StaleBox | undefined,
    countMiss: boolean,
  ): unknown {
    if (r.issues !== undefined) {
      if (countMiss) this.engine.l2Miss(full)
      return NOTHING
    }
    return this.engine.acceptL2(full, entry, r.value, fill, staleOut, countMiss)
  }

  // --- writes -------------------------------------------------------------------------------

  /** Writes an encoded entry and publishes its invalidation (the returned promise never rejects). */
  set(full: string, buf: Buffer, staleUntil: number, tags: readonly string[] | undefined): Promise<void> {
    const clock = this.engine.options.clock
    return this.write(`k:${full}`, () => this.store.set(full, buf, staleUntil - clock.now(), tags), {
      t: 's',
      k: [full],
    })
  }

  /** Deletes entries in L2 and other instances' L1. */
  del(fulls: string[]): Promise<void> {
    const id = fulls.length === 1 ? `k:${fulls[0]}` : `d:${fulls.join('\u0000')}`
    return this.write(id, () => this.store.del(fulls), { t: 'd', k: fulls })
  }

  /** Deletes entries carrying one of `tags`, in L2 and other instances' L1. */
  deleteByTag(tags: string[]): Promise<void> {
    return this.write(`td:${tags.join('\u0000')}`, () => this.store.deleteByTag(tags), { t: 'td', k: tags })
  }

  /** Expires entries carrying one of `tags` at `now`, in L2 and other instances' L1. */
  expireByTag(tags: string[], now: number): Promise<void> {
    return this.write(`te:${tags.join('\u0000')}`, () => this.store.expireByTag(tags, now), {
      t: 'te',
      k: tags,
      at: now,
    })
  }

  /** Clears a namespace ('' : everything under the prefix). */
  clear(ns: string): Promise<void> {
    return this.write(
      `c:${ns}`,
      () => this.store.clear(ns),
      ns === '' ? { t: 'f', k: [] } : { t: 'c', k: [ns] },
    )
  }

  /**
   * Runs an L2 write and publishes its invalidation; when L2 cannot take it, queues it (latest
   * per `id`) for replay when L2 is back.
   */
  private async write(id: string, op: () => Promise<unknown>, msg: Invalidation): Promise<void> {
    const r = await op()
    if (r === REFUSED) {
      // Redis is up and will never take this write: retrying it would only fail again. What L2
      // held for the target is now older than this instance's L1, so drop it (best effort) and
      // tell the other instances, so no tier keeps serving the value this write replaced.
      this.replay.delete(id)
      if (msg.t === 's') await this.store.del(msg.k)
      this.publish(msg.t === 's' ? { t: 'd', k: msg.k } : msg)
      return
    }
    if (r !== FAIL) {
      // a newer successful write supersedes whatever was queued for the same target
      this.replay.delete(id)
      this.publish(msg)
      return
    }
    this.replay.delete(id)
    if (this.replay.size >= 10_000) {
      const oldest = this.replay.keys().next().value as string
      this.replay.delete(oldest)
      this.replayDropped++
    }
    this.replay.set(
      id,
      msg.t === 's' || msg.t === 'd' ? () => this.replayAsDelete(msg.k) : () => this.replayOp(op, msg),
    )
  }

  /**
   * A write or delete that missed L2 is replayed as a delete, never as the write: by the time L2
   * is back, another instance may have written a newer value or deleted the key, and replaying
   * the old value would overwrite or resurrect it (regression: A's queued write landed after B's
   * newer one and won everywhere). Deleting is always safe for a cache: the next read loads the
   * current value. This instance's own L1 copy goes too, for the same reason.
   */
  private async replayAsDelete(keys: string[]): Promise<unknown> {
    this.engine.dropLocal(keys)
    const r = await this.store.del(keys)
    if (r === FAIL) return FAIL
    this.publish({ t: 'd', k: keys })
    return undefined
  }

  /** Tag deletes and expiries and clears only ever invalidate, so they are replayed as they were. */
  private async replayOp(op: () => Promise<unknown>, msg: Invalidation): Promise<unknown> {
    if ((await op()) === FAIL) return FAIL
    this.publish(msg)
    return undefined
  }

  private async replayWrites(): Promise<void> {
    for (const [id, run] of [...this.replay]) {
      if (this.engine.isClosed || this.store.guard.state !== 'closed') return
      if (this.replay.get(id) !== run) continue
      if ((await run()) === FAIL) return
      if (this.replay.get(id) === run) this.replay.delete(id)
    }
  }

  /** Publishes an invalidation (best effort, not awaited by callers). */
  private publish(msg: Invalidation): void {
    if (this.bus === undefined) return
    void this.store.publish(this.channel, this.bus.encode(msg))
  }

  /** The tier's part of `stats().l2`. */
  stats(): { pendingWrites: number; droppedWrites: number } {
    return { pendingWrites: this.replay.size, droppedWrites: this.replayDropped }
  }

  /** Stops timers and the bus, removes listeners from the client. */
  close(): void {
    this.store.close()
    this.bus?.close()
  }
}
