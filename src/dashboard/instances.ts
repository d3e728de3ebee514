/**
 * The other instances heard from over Redis: their frames since our last tick (deltas, which add
 * up) and the latest of each (for totals and levels). Bounded: at most 64 instances, 16 frames
 * waiting per instance; an instance silent for `staleAfterMs` leaves the view.
 */
import { aggregate } from './aggregate.js'
import type { Frame } from './types.js'

/** Other instances shown at most (a bound on memory whatever is on the channel). */
export const MAX_INSTANCES = 64
const MAX_PENDING = 16

/** What one of our ticks gathers from the other instances. */
export interface Gathered {
  /** One frame per instance heard from in the tick (several merged into one). */
  frames: Frame[]
  /** Every frame received in the tick (for the aggregate's sums). */
  deltas: Frame[]
  /** The newest frame of each live instance (for totals and levels). */
  latest: Frame[]
  /** Instances that just left the view (silent for too long). */
  left: string[]
}

/** Frames of the other instances, between two of our ticks. */
export class RemoteInstances {
  private readonly remote = new Map<string, { latest: Frame; pending: Frame[]; seenAt: number }>()

  constructor(private readonly staleAfterMs: number) {}

  /** Whether frames of `instance` are in the view. */
  has(instance: string): boolean {
    return this.remote.has(instance)
  }

  /** Adds a frame received from instance `f.instance` at `now`. */
  add(f: Frame, now: number): void {
    const r = this.remote.get(f.instance)
    if (r === undefined) {
      if (this.remote.size < MAX_INSTANCES)
        this.remote.set(f.instance, { latest: f, pending: [f], seenAt: now })
      return
    }
    r.latest = f
    r.seenAt = now
    // a stalled tick must not let this grow without bound
    if (r.pending.length < MAX_PENDING) r.pending.push(f)
  }

  /** Takes what arrived since the previous call; drops instances silent for too long. */
  gather(now: number, bounds: number[]): Gathered {
    const out: Gathered = { frames: [], deltas: [], latest: [], left: [] }
    for (const [id, r] of this.remote) {
      if (now - r.seenAt > this.staleAfterMs) {
        this.remote.delete(id)
        out.left.push(id)
        continue
      }
      out.latest.push(r.latest)
      if (r.pending.length > 0) {
        out.deltas.push(...r.pending)
        out.frames.push(r.pending.length === 1 ? (r.pending[0] as Frame) : merged(r.pending, bounds))
        r.pending = []
      }
    }
    return out
  }
}

/** Two frames of one instance in one of our ticks (its timer ran a little fast): their sum, under its name. */
function merged(frames: Frame[], bounds: number[]): Frame {
  const last = frames[frames.length - 1] as Frame
  const dt = frames.reduce((s, f) => s + f.dt, 0)
  return { ...aggregate(frames, [last], bounds, last.t, dt, last.seq), instance: last.instance }
}
