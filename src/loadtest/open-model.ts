/**
 * The open model: requests arrive on a schedule whatever the server does. Each send has an
 * intended time; latency is measured from it (coordinated-omission correct: a stalled server's
 * queue shows up as latency, as for real users), and the time from the actual send is kept
 * beside it. A send that finds `maxInFlight` iterations outstanding is dropped and counted, never
 * silently delayed.
 */
import type { Clock, TimerHandle } from '../time.js'
import { ArrivalSchedule, type RateStage } from './schedule.js'
import type { Stats } from './stats.js'

/** Runs one iteration whose first request was meant to go out at `intended` (clock ms). */
export type Iteration = (intended: number, iteration: number) => Promise<void>

/** What `runOpenModel` needs. */
export interface OpenModelRun {
  /** The arrival-rate stages. */
  stages: readonly RateStage[]
  /** Time source (sub-millisecond). */
  clock: Clock
  /** Where sends are counted; the iteration records its own outcomes. */
  stats: Stats
  /** The work of one arrival. */
  iteration: Iteration
  /** Outstanding iterations above which a send is dropped. */
  maxInFlight: number
  /** A send later than this (ms) after its intended time counts as late. */
  lateAfterMs: number
  /** Stops the schedule (in-flight iterations are left to the caller's own signal). */
  signal?: AbortSignal
}

/**
 * Sends on schedule until the stages end or `signal` aborts, then waits for the iterations in
 * flight. Resolves with the clock time the schedule started.
 */
export async function runOpenModel(run: OpenModelRun): Promise<number> {
  const { clock, stats, iteration, maxInFlight, lateAfterMs, signal } = run
  const schedule = new ArrivalSchedule(run.stages)
  const start = clock.now()
  let inFlight = 0
  let drained: (() => void) | undefined
  let timer: TimerHandle | undefined
  let stopped = false
  let next = schedule.next()
  let finishSchedule: () => void = () => {}
  const scheduleDone = new Promise<void>((resolve) => {
    finishSchedule = resolve
  })

  const settle = (): void => {
    inFlight--
    if (inFlight === 0 && drained !== undefined) drained()
  }

  const stop = (): void => {
    if (stopped) return
    stopped = true
    if (timer !== undefined) clock.clearTimeout(timer)
    finishSchedule()
  }

  // Fires every send that is due, then sleeps until the next one. The timer's 1 ms granularity
  // means sends at 2,000/s go out in pairs, each within a millisecond of its intended time.
  const tick = (): void => {
    timer = undefined
    if (stopped) return
    const now = clock.now()
    while (next !== undefined && start + next <= now) {
      const intended = start + next
      const index = schedule.issued - 1
      stats.sends.scheduled++
      if (inFlight >= maxInFlight) {
        stats.sends.dropped++
      } else {
        stats.recordSend(now - intended, lateAfterMs)
        inFlight++
        iteration(intended, index).then(settle, settle)
      }
      next = schedule.next()
    }
    if (next === undefined) {
      stop()
      return
    }
    timer = clock.setTimeout(tick, Math.max(0, start + next - clock.now()))
  }

  signal?.addEventListener('abort', stop, { once: true })
  if (signal?.aborted) stop()
  else tick()
  await scheduleDone
  signal?.removeEventListener('abort', stop)
  if (inFlight > 0) await new Promise<void>((resolve) => (drained = resolve))
  return start
}
