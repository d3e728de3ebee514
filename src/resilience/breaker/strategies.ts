/**
 * When a circuit opens. Each strategy counts outcomes and answers "open now?" after a failure.
 */
import { assertKnownKeys } from '../../options.js'
import { type Duration, toMs } from '../../time.js'

/** Counts outcomes for a breaker. */
export interface BreakerStrategy {
  /** Records a success. */
  success(now: number): void
  /** Records a failure; true when the circuit should open. */
  failure(now: number): boolean
  /** Forgets everything (the circuit closed). */
  reset(now: number): void
  /** Counters for stats(). */
  snapshot(): object
}

/** Opens after `threshold` failures in a row. */
export function consecutive(threshold = 5): () => BreakerStrategy {
  if (!Number.isInteger(threshold) || threshold < 1) {
    throw new RangeError(`consecutive threshold must be an integer >= 1; received ${threshold}`)
  }
  return () => {
    let failures = 0
    return {
      success() {
        failures = 0
      },
      failure() {
        return ++failures >= threshold
      },
      reset() {
        failures = 0
      },
      snapshot: () => ({ consecutiveFailures: failures }),
    }
  }
}

/** Opens when the failure rate over the last `size` calls reaches `threshold`, after `minimumCalls`. */
export function countWindow(
  options: { size?: number; threshold?: number; minimumCalls?: number } = {},
): () => BreakerStrategy {
  assertKnownKeys(options, ['size', 'threshold', 'minimumCalls'], 'countWindow options')
  const size = options.size ?? 100
  const threshold = options.threshold ?? 0.5
  const minimumCalls = options.minimumCalls ?? Math.min(size, 20)
  if (!Number.isInteger(size) || size < 1)
    throw new RangeError(`size must be an integer >= 1; received ${size}`)
  if (!(threshold > 0 && threshold <= 1))
    throw new RangeError(`threshold must be in (0, 1]; received ${threshold}`)
  if (!Number.isInteger(minimumCalls) || minimumCalls < 1 || minimumCalls > size) {
    throw new RangeError(`minimumCalls must be an integer in [1, size]; received ${minimumCalls}`)
  }
  return () => {
    const ring = new Uint8Array(size)
    let index = 0
    let count = 0
    let failures = 0
    const push = (failed: number) => {
      if (count === size) failures -= ring[index] as number
      else count++
      ring[index] = failed
      failures += failed
      index = (index + 1) % size
    }
    return {
      success() {
        push(0)
      },
      failure() {
        push(1)
        return count >= minimumCalls && failures / count >= threshold
      },
      reset() {
        ring.fill(0)
        index = 0
        count = 0
        failures = 0
      },
      snapshot: () => ({ windowCalls: count, windowFailures: failures }),
    }
  }
}

/** Opens when the failure rate over the last `duration` reaches `threshold`, after `minimumCalls`. */
export function sampling(
  options: { duration?: Duration; threshold?: number; minimumCalls?: number; buckets?: number } = {},
): () => BreakerStrategy {
  assertKnownKeys(options, ['duration', 'threshold', 'minimumCalls', 'buckets'], 'sampling options')
  // a window, not a timer: toMs
  const duration = toMs(options.duration ?? '10s', 'sampling duration')
  const threshold = options.threshold ?? 0.5
  const minimumCalls = options.minimumCalls ?? 20
  const buckets = options.buckets ?? 10
  if (duration <= 0) throw new RangeError('duration must be greater than 0')
  if (!(threshold > 0 && threshold <= 1))
    throw new RangeError(`threshold must be in (0, 1]; received ${threshold}`)
  if (!Number.isInteger(minimumCalls) || minimumCalls < 1)
    throw new RangeError(`minimumCalls must be an integer >= 1; received ${minimumCalls}`)
  if (!Number.isInteger(buckets) || buckets < 1)
    throw new RangeError(`buckets must be an integer >= 1; received ${buckets}`)
  const width = duration / buckets
  return () => {
    const ok = new Float64Array(buckets)
    const bad = new Float64Array(buckets)
    let current = 0
    let start = Number.NaN
    const roll = (now: number) => {
      if (Number.isNaN(start)) start = now
      let steps = Math.floor((now - start) / width)
      if (steps <= 0) return
      start += steps * width
      if (steps > buckets) steps = buckets
      for (let i = 0; i < steps; i++) {
        current = (current + 1) % buckets
        ok[current] = 0
        bad[current] = 0
      }
    }
    const totals = () => {
      let s = 0
      let f = 0
      for (let i = 0; i < buckets; i++) {
        s += ok[i] as number
        f += bad[i] as number
      }
      return { calls: s + f, failures: f }
    }
    return {
      success(now) {
        roll(now)
        ok[current]!++
      },
      failure(now) {
        roll(now)
        bad[current]!++
        const t = totals()
        return t.calls >= minimumCalls && t.failures / t.calls >= threshold
      },
      reset(now) {
        ok.fill(0)
        bad.fill(0)
        start = now
      },
      snapshot: () => {
        const t = totals()
        return { windowCalls: t.calls, windowFailures: t.failures }
      },
    }
  }
}
