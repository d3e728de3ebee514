/**
 * Breaking-point search: (1) an exponential ramp of short constant-rate steps until one breaks
 * (steady throughput < 95% of offered, p99 above the SLO, or errors above the limit; judgeStep); (2) bisection
 * between the last good and the first bad rate with longer steady steps, to the highest
 * sustainable rate; (3) the knee of the latency curve over every step run (Kneedle: the point
 * farthest below the chord); (4) recovery: overload at the first bad rate, then drop to half the
 * sustainable rate and time how long until per-second p99 is back within 1.5x of the calm p99.
 */
import { type Duration, toMs } from '../time.js'
import type { LoadTestOptions } from './options.js'
import type { LoadTestReport } from './report.js'
import { runLoadTest } from './run.js'
import { scheduleLength } from './schedule.js'

/** Options of `findBreakingPoint` (the rest of a load test's options pass through). */
export interface BreakingPointOptions
  extends Omit<LoadTestOptions, 'rate' | 'stages' | 'stairs' | 'vus' | 'duration'> {
  /** A step whose p99 exceeds this breaks. @default '1s' */
  slo?: Duration
  /** A step whose error rate exceeds this fraction breaks. @default 0.01 */
  maxErrorRate?: number
  /** First ramp rate (req/s). @default 50 */
  from?: number
  /** Ramp multiplier between steps. @default 1.5 */
  factor?: number
  /** Length of a ramp step. @default '3s' */
  rampStep?: Duration
  /** Length of a bisection step. @default '6s' */
  steadyStep?: Duration
  /** Stop bisecting when the bracket is narrower than this fraction of its low end. @default 0.05 */
  precision?: number
  /** Highest rate the ramp may try. @default 1_000_000 */
  maxRate?: number
  /** Measure recovery after an overload. @default true */
  recovery?: boolean
  /** Called after each step. @default none */
  onStep?: (step: StepResult) => void
}

/** One constant-rate step. */
export interface StepResult {
  phase: 'ramp' | 'bisect'
  rate: number
  achieved: number
  p50: number
  p99: number
  errorRate: number
  ok: boolean
  /** Why it broke. */
  reason: string | undefined
}

/** What the search found. */
export interface BreakingPointResult {
  /** Highest rate that held every criterion (0 if even the first step broke). */
  maxSustainable: number
  /** The first rate that broke (undefined if `maxRate` held). */
  firstBroken: number | undefined
  /** The knee of p50 latency over the offered rate (Kneedle), when there are enough steps. */
  knee: number | undefined
  /** Time from the end of the overload until p99 was back to normal (ms); undefined if not measured or never. */
  recoveryMs: number | undefined
  steps: StepResult[]
  /** Wall time the search took (ms). */
  elapsedMs: number
}

/** Runs the search against `options.target`. */
export async function findBreakingPoint(options: BreakingPointOptions): Promise<BreakingPointResult> {
  const {
    slo = '1s',
    maxErrorRate = 0.01,
    from = 50,
    factor = 1.5,
    rampStep = '3s',
    steadyStep = '6s',
    precision = 0.05,
    maxRate = 1_000_000,
    recovery = true,
    onStep,
    ...rest
  } = options
  const sloMs = toMs(slo, 'slo')
  if (!(factor > 1)) throw new RangeError(`factor must be > 1; received ${factor}`)
  if (!(from > 0)) throw new RangeError(`from must be > 0; received ${from}`)
  const started = Date.now()
  const steps: StepResult[] = []
  const base: LoadTestOptions = { timeout: Math.max(2000, sloMs * 4), gracefulStop: '1s', ...rest }

  const step = async (phase: StepResult['phase'], rate: number, duration: Duration): Promise<StepResult> => {
    const r = await runLoadTest({ ...base, rate, duration, thresholds: [] })
    const result = judgeStep(phase, rate, r, sloMs, maxErrorRate)
    steps.push(result)
    onStep?.(result)
    return result
  }

  let good = 0
  let bad: number | undefined
  for (let rate = from; rate <= maxRate; rate = Math.ceil(rate * factor)) {
    if (rest.signal?.aborted) break
    const s = await step('ramp', rate, rampStep)
    if (!s.ok) {
      bad = rate
      break
    }
    good = rate
  }
  if (bad !== undefined) {
    let lo = good
    let hi = bad
    while (hi - lo > Math.max(1, lo * precision) && !rest.signal?.aborted) {
      const mid = Math.round((lo + hi) / 2)
      const s = await step('bisect', mid, steadyStep)
      if (s.ok) lo = mid
      else hi = mid
    }
    good = lo
    bad = hi
  }
  let recoveryMs: number | undefined
  if (recovery && bad !== undefined && good > 0 && !rest.signal?.aborted)
    recoveryMs = await measureRecovery(base, bad, good, sloMs, toMs(steadyStep, 'steadyStep'))
  return {
    maxSustainable: good,
    firstBroken: bad,
    knee: knee(steps),
    recoveryMs,
    steps,
    elapsedMs: Date.now() - started,
  }
}

/**
 * Judges one constant-rate step (its length is the report's plan). Its throughput is the median of its successful
 * completions per second over the step's whole seconds after the first (the first holds the
 * pipeline filling up): an overloaded target completes at its own capacity every second,
 * whatever the step's length, so a rate 10% above it reads as 91% achieved. The median lets a
 * target that stalls for part of one second and then catches up (a GC pause, a checkpoint)
 * hold, as long as its p99 stays under the SLO. Counting every completion instead (the drain
 * after the step included) let a 3 s step at 1.3x capacity pass: its backlog of 0.9 s drained
 * inside the grace period and its p99 stayed under a 1 s SLO (bench/README.md, breaking
 * point). Steps shorter than 2 s, which have no such second, are judged on the completions
 * against the sends.
 */
export function judgeStep(
  phase: StepResult['phase'],
  rate: number,
  r: LoadTestReport,
  sloMs: number,
  maxErrorRate: number,
): StepResult {
  const p99 = r.latency.corrected.percentiles.p99 ?? 0
  const offered = r.sends.scheduled
  const durationMs = scheduleLength(r.plan.stages)
  const steady = r.timeline
    .filter((p) => p.t >= 2 && p.t * 1000 <= durationMs)
    .map((p) => p.requests - p.errors)
  let achieved = 0
  if (steady.length > 0) achieved = median(steady)
  else if (offered > 0) achieved = ((r.requests - r.errors) / offered) * rate
  let reason: string | undefined
  if (offered > 0 && achieved < rate * 0.95)
    reason = `achieved ${((achieved / rate) * 100).toFixed(1)}% of offered`
  else if (offered > 0 && (r.requests - r.errors) / offered < 0.95)
    reason = `completed ${(((r.requests - r.errors) / offered) * 100).toFixed(1)}% of sends`
  else if (p99 > sloMs) reason = `p99 ${p99.toFixed(1)}ms > ${sloMs}ms`
  else if (r.errorRate > maxErrorRate) reason = `errors ${(r.errorRate * 100).toFixed(2)}%`
  return {
    phase,
    rate,
    achieved,
    p50: r.latency.corrected.percentiles.p50 ?? 0,
    p99,
    errorRate: r.errorRate,
    ok: reason === undefined,
    reason,
  }
}

/** The median of `xs` (not empty). */
function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2
}

/**
 * Overload at `bad` req/s for one steady step, then hold half of `good` for four (at least 5 s):
 * the recovery time is
 * from the drop until the first second whose p99 is within 1.5x of a calm second's p99 (and
 * under the SLO) and stays so for the next second too.
 */
async function measureRecovery(
  base: LoadTestOptions,
  bad: number,
  good: number,
  sloMs: number,
  stepMs: number,
): Promise<number | undefined> {
  const calm = Math.max(1, Math.round(good / 2))
  const calmRun = await runLoadTest({ ...base, rate: calm, duration: '2s' })
  const normal = Math.min(sloMs, Math.max(1, (calmRun.latency.corrected.percentiles.p99 ?? 0) * 1.5))
  const overloadMs = Math.max(1000, Math.round(stepMs / 1000) * 1000)
  const r = await runLoadTest({
    ...base,
    stages: [
      { duration: overloadMs, rate: bad },
      { duration: Math.max(5000, 4 * overloadMs), rate: calm },
    ],
  })
  const seconds = r.timeline.filter((p) => p.t * 1000 > overloadMs)
  for (let i = 0; i + 1 < seconds.length; i++) {
    const a = seconds[i]
    const b = seconds[i + 1]
    if (a !== undefined && b !== undefined && a.p99 <= normal && b.p99 <= normal && a.errors === 0)
      return Math.max(0, (a.t - 1) * 1000 - overloadMs)
  }
  return undefined
}

/** Kneedle on (rate, p50) of the steps that held: the rate farthest below the chord of the curve. */
export function knee(steps: readonly StepResult[]): number | undefined {
  const points = [...new Map(steps.map((s) => [s.rate, s.p50])).entries()].sort(([a], [b]) => a - b)
  if (points.length < 3) return undefined
  const [x0, y0] = points[0] as [number, number]
  const [x1, y1] = points[points.length - 1] as [number, number]
  if (x1 === x0 || y1 === y0) return undefined
  let best: number | undefined
  let bestGap = 0
  for (const [x, y] of points) {
    const nx = (x - x0) / (x1 - x0)
    const ny = (y - y0) / (y1 - y0)
    const gap = nx - ny
    if (gap > bestGap) {
      bestGap = gap
      best = x
    }
  }
  return best
}
