/**
 * The consumer-side scheduler: four priority classes served by weighted round robin (deficit
 * round robin with unit cost; default weights 8/4/2/1), tenants round robin inside each class,
 * and ageing: a class head that has waited `ageAfter` is dispatched before the round's turn
 * (oldest aged head first).
 *
 * The bound (docs/bus.md): while class c has messages, it gets at least w_c / W of dispatch
 * slots (W = sum of the weights), and its head is dispatched within W - w_c slots of reaching
 * the head; independently of the weights, a head that has waited `ageAfter` goes next unless an
 * older aged head exists. Strict priority (BullMQ, p-queue, RabbitMQ) gives low 0 slots while
 * urgent saturates.
 */
import { Deque } from './deque.js'
import type { Envelope } from './types.js'

interface TenantQueue {
  key: string
  q: Deque<Envelope>
}

class ClassQueue {
  readonly tenants = new Map<string, TenantQueue>()
  /** Tenants with messages, in turn order. */
  readonly turn = new Deque<TenantQueue>()
  /** The queue of messages without a tenant: found without a map lookup. */
  private readonly plain: TenantQueue = { key: '', q: new Deque<Envelope>() }
  count = 0

  /**
   * No message was pushed behind a newer one since the class was last empty: every tenant queue
   * is oldest first, so a tenant's next message waited no longer than the one taken before it.
   */
  private ordered = true
  /** queuedAt of the newest message pushed while `ordered`. */
  private lastAt = 0
  /** The head may be older than the message the last take() removed (see next()). */
  headMayBeOlder = false

  push(env: Envelope): void {
    const at = env.queuedAt
    if (this.count === 0) {
      this.ordered = true
      this.lastAt = at
    } else if (at < this.lastAt) this.ordered = false
    else this.lastAt = at
    const key = env.tenant
    if (key === undefined || key === '') {
      if (this.plain.q.size === 0) this.turn.push(this.plain)
      this.plain.q.push(env)
      this.count++
      return
    }
    let t = this.tenants.get(key)
    if (t === undefined) {
      t = { key, q: new Deque<Envelope>() }
      this.tenants.set(key, t)
      this.turn.push(t)
    } else if (t.q.size === 0) this.turn.push(t)
    t.q.push(env)
    this.count++
  }

  peek(): Envelope | undefined {
    return this.turn.peek()?.q.peek()
  }

  take(): Envelope | undefined {
    if (this.turn.size === 1) {
      // one tenant (the common case): no rotation, and the new head is that tenant's next
      const t = this.turn.peek() as TenantQueue
      const env = t.q.shift() as Envelope
      this.count--
      this.headMayBeOlder = !this.ordered
      if (t.q.size === 0) {
        this.turn.shift()
        if (t !== this.plain && this.tenants.size > 64) this.tenants.delete(t.key)
      }
      return env
    }
    const t = this.turn.shift()
    if (t === undefined) return undefined
    const env = t.q.shift() as Envelope
    this.count--
    // another tenant's head: it may have waited longer than this one
    this.headMayBeOlder = true
    if (t.q.size > 0) this.turn.push(t)
    else if (t !== this.plain && this.tenants.size > 64) this.tenants.delete(t.key) // keep few idle tenants around
    return env
  }

  /** Removes the newest message of the class (for shedding). */
  dropNewest(): Envelope | undefined {
    // the tenant served last holds (one of) the newest messages; cheap and good enough for shedding
    const t = this.turn.pop()
    if (t === undefined) return undefined
    const env = t.q.pop() as Envelope
    this.count--
    if (t.q.size > 0) this.turn.push(t)
    return env
  }
}

/** Weighted, aged, tenant-fair queue of envelopes. */
export class Scheduler {
  private readonly classes = [new ClassQueue(), new ClassQueue(), new ClassQueue(), new ClassQueue()]
  private readonly weights: readonly number[]
  private readonly ageAfter: number
  private current = 0
  private credit: number
  private total = 0
  /**
   * The `now` of the last ageing scan that found no aged head (NaN: scan on the next call). Until
   * `now` moves on, no head can have aged unless a head changed to an aged message, which the
   * take or push that changed it checks: the scan of three heads runs once per clock tick, not
   * once per message, and the dispatch order is the same as scanning every time.
   */
  private clearAt = Number.NaN
  /** Dispatches made by ageing (for stats). */
  aged = 0

  constructor(weights: readonly number[], ageAfter: number) {
    this.weights = weights
    this.ageAfter = ageAfter
    this.credit = weights[0] as number
  }

  /** Messages queued. */
  get size(): number {
    return this.total
  }

  /** Messages queued per class. */
  depths(): number[] {
    return this.classes.map((c) => c.count)
  }

  /** Wait so far of each class's head, ms (0 when empty). */
  oldest(now: number): number[] {
    return this.classes.map((c) => {
      const h = c.peek()
      return h === undefined ? 0 : now - h.queuedAt
    })
  }

  push(env: Envelope): void {
    const c = this.classes[env.p] as ClassQueue
    // a message that becomes its class's head may have aged already (a delivery of an old one)
    if (c.count === 0 && env.queuedAt <= this.clearAt - this.ageAfter) this.clearAt = Number.NaN
    c.push(env)
    this.total++
  }

  /** The next message to dispatch, or undefined when empty. */
  next(now: number): Envelope | undefined {
    if (this.total === 0) return undefined
    this.total--
    if (this.ageAfter !== Number.POSITIVE_INFINITY && now !== this.clearAt) {
      let best = -1
      let bestAt = now - this.ageAfter
      // urgent never needs ageing: it has the largest weight
      for (let c = 1; c < 4; c++) {
        const h = (this.classes[c] as ClassQueue).peek()
        if (h !== undefined && h.queuedAt <= bestAt) {
          best = c
          bestAt = h.queuedAt
        }
      }
      if (best >= 0) {
        this.aged++
        this.clearAt = Number.NaN
        return (this.classes[best] as ClassQueue).take()
      }
      this.clearAt = now
    }
    for (;;) {
      const c = this.classes[this.current] as ClassQueue
      if (this.credit > 0 && c.count > 0) {
        this.credit--
        const env = c.take() as Envelope
        if (this.current !== 0 && c.headMayBeOlder) {
          // the class's new head (another tenant's, or an old delivery) may have aged; a head
          // no older than `env` has not (`env` had not, or ageing would have taken it)
          const h = c.peek()
          if (h !== undefined && h.queuedAt <= now - this.ageAfter) this.clearAt = Number.NaN
        }
        return env
      }
      this.current = (this.current + 1) & 3
      this.credit = this.weights[this.current] as number
    }
  }

  /**
   * Makes room for a message of class `p` by dropping the newest message of the lowest class
   * below it; undefined when no class below `p` has one (the newcomer is the lowest).
   */
  shedBelow(p: number): Envelope | undefined {
    for (let c = 3; c > p; c--) {
      const q = this.classes[c] as ClassQueue
      if (q.count > 0) {
        this.total--
        return q.dropNewest()
      }
    }
    return undefined
  }

  /** Removes and returns everything (close without drain). */
  clear(): Envelope[] {
    const out: Envelope[] = []
    for (const c of this.classes) for (let e = c.take(); e !== undefined; e = c.take()) out.push(e)
    this.total = 0
    this.clearAt = Number.NaN
    return out
  }
}
