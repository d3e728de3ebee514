/**
 * The two rate-limit algorithms as pure state transitions (the Redis scripts mirror them).
 *
 * Token bucket: `limit` tokens, refilled continuously at limit/window; a call takes `cost`.
 * GCRA (generic cell rate algorithm, as in ATM networks and redis-cell): one number per key, the
 * theoretical arrival time (TAT); a call is allowed while TAT + cost x interval - now <= window,
 * where interval = window / limit. Same long-run rate; GCRA keeps one number instead of two and
 * spreads a burst evenly over the window.
 */

/** A decision. Times are milliseconds. */
export interface Decision {
  allowed: boolean
  /** The limit (tokens or calls per window). */
  limit: number
  /** Calls of cost 1 still allowed right now. */
  remaining: number
  /** Until the limiter is back to its full allowance. */
  resetMs: number
  /**
   * When denied: wait this long before the same call can pass. 0 when allowed; Infinity when the
   * cost is above the limit (`exceedsLimit`).
   */
  retryAfterMs: number
  /** True when the cost is above the limit: the call can never be allowed, so do not retry it. */
  exceedsLimit?: true
}

/** Parameters shared by both algorithms. */
export interface Rate {
  limit: number
  windowMs: number
}

/** Token bucket: state [tokens, updatedAt]. */
export function tokenBucket(
  state: Float64Array,
  fresh: boolean,
  rate: Rate,
  cost: number,
  now: number,
): Decision {
  const perMs = rate.limit / rate.windowMs
  let tokens = fresh
    ? rate.limit
    : Math.min(rate.limit, (state[0] as number) + (now - (state[1] as number)) * perMs)
  let allowed = false
  if (tokens >= cost) {
    tokens -= cost
    allowed = true
  }
  state[0] = tokens
  state[1] = now
  return {
    allowed,
    limit: rate.limit,
    remaining: Math.floor(tokens),
    resetMs: (rate.limit - tokens) / perMs,
    retryAfterMs: allowed ? 0 : (cost - tokens) / perMs,
  }
}

/** GCRA: state [tat]. */
export function gcra(state: Float64Array, fresh: boolean, rate: Rate, cost: number, now: number): Decision {
  const interval = rate.windowMs / rate.limit
  const tat = fresh ? now : Math.max(state[0] as number, now)
  const next = tat + cost * interval
  const allowed = next - now <= rate.windowMs
  if (allowed) state[0] = next
  else state[0] = tat
  return decideGcra(allowed, (allowed ? next : tat) - now, next - now, rate)
}

/** Turns GCRA's "TAT minus now" into a decision (shared with the Redis path). */
export function decideGcra(allowed: boolean, ahead: number, wanted: number, rate: Rate): Decision {
  const interval = rate.windowMs / rate.limit
  return {
    allowed,
    limit: rate.limit,
    remaining: Math.max(0, Math.floor((rate.windowMs - ahead) / interval)),
    resetMs: Math.max(0, ahead),
    retryAfterMs: allowed ? 0 : Math.max(0, wanted - rate.windowMs),
  }
}
