/**
 * Arrival-rate schedules for the open model: constant rate, linear ramps and stairs, as a list of
 * stages. `ArrivalSchedule` yields each request's intended send time (ms from the start of the
 * run) by inverting the cumulative arrival count, so sends are evenly spaced at any rate (no
 * per-second bursts) and a ramp's spacing shrinks smoothly.
 */

/** One stage: the rate goes linearly from `from` to `to` requests/second over `durationMs`. */
export interface RateStage {
  /** Length of the stage in ms. */
  durationMs: number
  /** Requests per second at the start of the stage. */
  from: number
  /** Requests per second at the end of the stage (equal to `from` for a constant rate). */
  to: number
}

/** Stages for `steps` stairs: `from`, `from + step`, ... each held `everyMs`. */
export function stairs(from: number, step: number, steps: number, everyMs: number): RateStage[] {
  return Array.from({ length: steps }, (_, i) => ({
    durationMs: everyMs,
    from: from + i * step,
    to: from + i * step,
  }))
}

/** Total length of `stages` in ms. */
export function scheduleLength(stages: readonly RateStage[]): number {
  return stages.reduce((sum, s) => sum + s.durationMs, 0)
}

/** Highest rate (req/s) any stage reaches. */
export function peakRate(stages: readonly RateStage[]): number {
  return stages.reduce((max, s) => Math.max(max, s.from, s.to), 0)
}

/** The rate (req/s) the schedule asks for at `t` ms; 0 after the end. */
export function rateAt(stages: readonly RateStage[], t: number): number {
  let start = 0
  for (const s of stages) {
    if (t < start + s.durationMs) return s.from + ((s.to - s.from) * (t - start)) / s.durationMs
    start += s.durationMs
  }
  return 0
}

/**
 * One of `of` generators sharing a schedule (worker threads): generator `index` takes arrivals
 * `index`, `index + of`, `index + 2 * of`... so together they send exactly what one would.
 */
export interface ScheduleShard {
  index: number
  of: number
}

/** Intended send times, one after the other. */
export class ArrivalSchedule {
  private readonly stages: readonly RateStage[]
  private readonly shard: ScheduleShard | undefined
  private stage = 0
  private stageStart = 0
  /** Arrivals (fractional) before the current stage. */
  private countBefore = 0
  private index = 0

  constructor(stages: readonly RateStage[], shard?: ScheduleShard) {
    this.stages = stages
    this.shard = shard !== undefined && shard.of > 1 ? shard : undefined
  }

  /** Arrivals of the whole schedule up to the last one handed out (this shard's or not). */
  get issued(): number {
    return this.index
  }

  /** The intended time (ms from start) of the next request, or `undefined` when the schedule ends. */
  next(): number | undefined {
    const shard = this.shard
    if (shard === undefined) return this.nextOfAll()
    for (;;) {
      const t = this.nextOfAll()
      if (t === undefined || (this.index - 1) % shard.of === shard.index) return t
    }
  }

  private nextOfAll(): number | undefined {
    const k = this.index
    for (;;) {
      const s = this.stages[this.stage]
      if (s === undefined) return undefined
      const t = offsetInStage(s, k - this.countBefore)
      if (t !== undefined) {
        this.index++
        return this.stageStart + t
      }
      this.countBefore += ((s.from + s.to) / 2) * (s.durationMs / 1000)
      this.stageStart += s.durationMs
      this.stage++
    }
  }
}

/**
 * Time within stage `s` at which its `x`-th arrival (fractional, from the stage start) falls, or
 * `undefined` when it falls after the stage. Solves r0*t + a*t^2/2 = x with rates per ms.
 */
function offsetInStage(s: RateStage, x: number): number | undefined {
  const r0 = s.from / 1000
  const a = (s.to - s.from) / 1000 / s.durationMs
  let t: number
  if (Math.abs(a) < 1e-15) {
    if (r0 <= 0) return undefined
    t = x / r0
  } else {
    const disc = r0 * r0 + 2 * a * x
    if (disc < 0) return undefined
    t = (-r0 + Math.sqrt(disc)) / a
  }
  // Float error could put an arrival that belongs exactly at the boundary a hair inside.
  return t < s.durationMs - 1e-9 ? Math.max(0, t) : undefined
}
