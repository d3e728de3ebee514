/**
 * L1 stores made after the caller is answered. A loaded value's L1 store (its size estimate, the
 * insert, an eviction) cost a database read's cache miss about 2 µs of its ~100 µs on loopback
 * when it ran before the caller's continuation; these run in the loop's check phase instead, all
 * of one turn together, while the next statement is on the wire. Only for loads whose callers
 * find the value again through the flight (the db layer's cached reads) and whose reads wait on
 * I/O between them (the pg driver: the check phase comes before their next read), and only
 * without L2 (whose write order stays putInBackground's). A store is dropped when anything was
 * deleted, expired, cleared or set in L1 since its value was loaded: it may be older than that.
 */
import type { ResolvedPolicy } from './option-types.js'

interface Pending {
  readonly full: string
  readonly value: unknown
  readonly policy: ResolvedPolicy
  readonly delta: number
  /** When the value was loaded: its TTL counts from then. */
  readonly at: number
  readonly epoch: number
  /** Runs after the store (or its drop): the load's flight lands then. */
  readonly done: () => void
}

/** What the deferred stores need from the engine. */
export interface StoreTarget {
  readonly isClosed: boolean
  put(full: string, value: unknown, policy: ResolvedPolicy, delta: number, at: number): unknown
}

/** The deferred L1 stores of one engine. */
export class DeferredStores {
  private pending: Pending[] = []
  /** Bumped by every local deletion, expiry, clear or explicit set. */
  private epoch = 0
  private readonly drainBound = () => this.drain()

  constructor(private readonly target: StoreTarget) {}

  /** L1 changed in a way a value loaded before it must not undo. */
  changed(): void {
    this.epoch++
  }

  /** Stores `value` (loaded at `at`) in the check phase of this turn of the loop; `done` runs after. */
  add(
    full: string,
    value: unknown,
    policy: ResolvedPolicy,
    delta: number,
    at: number,
    done: () => void,
  ): void {
    if (this.pending.length === 0) setImmediate(this.drainBound)
    this.pending.push({ full, value, policy, delta, at, epoch: this.epoch, done })
  }

  /** Stores queued for the next check phase. */
  get size(): number {
    return this.pending.length
  }

  private drain(): void {
    const list = this.pending
    this.pending = []
    for (const p of list) {
      try {
        if (p.epoch === this.epoch && !this.target.isClosed)
          this.target.put(p.full, p.value, p.policy, p.delta, p.at)
      } catch {
        // a custom sizeOf that throws: the value is not kept (its caller was answered already),
        // and the next read loads it again
      } finally {
        p.done()
      }
    }
  }
}
