/**
 * In-process rate-limit state: one small typed array per key, bounded by `maxKeys` (keys whose
 * allowance is full again are dropped first; then the oldest).
 */
import { type Decision, gcra, type Rate, tokenBucket } from './algorithms.js'

/** Which algorithm. */
export type Algorithm = 'token-bucket' | 'gcra'

/** Keyed in-memory limiter state. */
export class MemoryLimiterState {
  private readonly map = new Map<string, Float64Array>()
  private readonly step: typeof tokenBucket
  private readonly width: number

  constructor(
    private readonly algorithm: Algorithm,
    private readonly rate: Rate,
    private readonly maxKeys: number,
  ) {
    this.step = algorithm === 'gcra' ? gcra : tokenBucket
    this.width = algorithm === 'gcra' ? 1 : 2
  }

  /** Keys tracked. */
  get size(): number {
    return this.map.size
  }

  /** Decides for `key` at `now`. */
  consume(key: string, cost: number, now: number): Decision {
    let state = this.map.get(key)
    const fresh = state === undefined
    if (state === undefined) {
      if (this.map.size >= this.maxKeys) this.prune(now)
      state = new Float64Array(this.width)
      this.map.set(key, state)
    }
    return this.step(state, fresh, this.rate, cost, now)
  }

  private prune(now: number): void {
    const perMs = this.rate.limit / this.rate.windowMs
    for (const [key, s] of this.map) {
      const full =
        this.algorithm === 'gcra'
          ? (s[0] as number) <= now
          : (s[0] as number) + (now - (s[1] as number)) * perMs >= this.rate.limit
      if (full) this.map.delete(key)
    }
    // still full of active keys: forget the oldest tenth (they restart with a full allowance)
    if (this.map.size >= this.maxKeys) {
      let drop = Math.max(1, Math.floor(this.maxKeys / 10))
      for (const key of this.map.keys()) {
        if (drop-- <= 0) break
        this.map.delete(key)
      }
    }
  }

  /** Forgets a key. */
  reset(key: string): void {
    this.map.delete(key)
  }
}
