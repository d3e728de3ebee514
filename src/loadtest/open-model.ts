/**
 * The open model: requests arrive on a schedule whatever the server does. Each send has an
 * intended time; latency is measured from it (coordinated-omission correct: a stalled server's
 * queue shows up as latency, as for real users), and the time from the actual send is kept
 * beside it. A send that finds `maxInFlight` iterations outstanding is dropped and counted, never
 * silently delayed.
 *
 * Pacing: the wait for the next send is aimed at its absolute intended time, and every send whose
 * time has passed goes out on the same wake-up (each with its own intended and dispatch time).
 * `timer` sleeps on a timer: Node's timers have 1 ms granularity, so at 2,000/s sends leave in
 * pairs up to about a millisecond late, at next to no CPU. `spin` sleeps on a timer until
 * `SPIN_WINDOW_MS` before the send, then turns the event loop (`setImmediate`: I/O is still
 * served on every turn) until the send is due: sub-millisecond, but it keeps a core busy
 * whenever sends are closer together than the window. A turn that comes more than
 * `SPIN_HELD_MS` after the one before means the process was held up (the machine is short of
 * cores, or the loop had other work): a spinning process is the one the OS scheduler makes wait
 * longest, so pacing falls back to the timer for `SPIN_BACKOFF_MS` before spinning again.
 * `precise` arms each send's time on the pacer thread (pacer.ts), which wakes the loop within
 * about 0.1 ms at the CPU cost of a thread switch per wake-up; if the thread dies, the timer
 * takes over.
 */
import type { Clock, TimerHandle } from '../time.js'
import { type Pacer, type PacerCallbacks, startPacer } from './pacer.js'
import { ArrivalSchedule, type RateStage, type ScheduleShard } from './schedule.js'
import type { Stats } from './stats.js'

/** How the open model waits for its next send (see the module's comment). */
export type Pacing = 'timer' | 'spin' | 'precise'

/**
 * `auto` pacing picks `precise` up to this rate (sends/s) and `timer` above it: at 5,000/s a
 * wake-up per send costs about a fifth of a core, more than the sends themselves.
 */
export const PRECISE_MAX_RATE = 5000

/** Resolves `auto` pacing for a schedule whose highest rate is `peak` (sends/s). */
export function resolvePacing(pacing: Pacing | 'auto', peak: number): Pacing {
  if (pacing !== 'auto') return pacing
  return peak <= PRECISE_MAX_RATE ? 'precise' : 'timer'
}

/** With `spin` pacing: how long before a send the timer hands over to event-loop turns (ms). */
export const SPIN_WINDOW_MS = 2

/**
 * With `spin` pacing: a gap between two turns longer than this (ms) means the spinner was held
 * up by the OS scheduler. Shorter holds (a GC pause, a burst of responses) are the process's own
 * and backing off would only add timer-paced sends.
 */
export const SPIN_HELD_MS = 5

/** With `spin` pacing: how long the timer paces alone after the spinner was held up (ms). */
export const SPIN_BACKOFF_MS = 100

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
  /** The same work as `iteration` without a promise: calls `done` once when finished. */
  direct?: (intended: number, iteration: number, done: () => void) => void
  /** How to wait for the next send. @default 'timer' */
  pacing?: Pacing
  /** Runs `fn` on the next event-loop turn (`spin` pacing; tests pass a fake). @default setImmediate */
  immediate?: (fn: () => void) => void
  /** This generator's share of the schedule (worker threads). @default all of it */
  shard?: ScheduleShard
  /** Starts the pacer thread (`precise` pacing; tests pass a fake). @default startPacer */
  startPacer?: (callbacks: PacerCallbacks) => Promise<Pacer>
}

/**
 * Sends on schedule until the stages end or `signal` aborts, then waits for the iterations in
 * flight. Resolves with the clock time the schedule started.
 */
export async function runOpenModel(run: OpenModelRun): Promise<number> {
  const { clock, stats, iteration, maxInFlight, lateAfterMs, signal } = run
  const { direct } = run
  const spin = run.pacing === 'spin'
  const immediate = run.immediate ?? setImmediate
  const schedule = new ArrivalSchedule(run.stages, run.shard)
  let inFlight = 0
  let drained: (() => void) | undefined
  let timer: TimerHandle | undefined
  let stopped = false
  let pacer: Pacer | undefined
  if (run.pacing === 'precise' && !signal?.aborted) {
    // Started before the clock: the thread's start-up is not the first sends' delay.
    pacer = await (run.startPacer ?? startPacer)({
      onWake: () => tick(),
      onFail: () => {
        pacer = undefined
        if (!stopped) tick()
      },
    })
  }
  const start = clock.now()
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
    void pacer?.close()
    finishSchedule()
  }

  // Fires every send that is due (each timed on its own: a wake-up's later sends leave later),
  // then waits for the next one's absolute time.
  let spunAt = -1
  let timerUntil = 0
  const tick = (): void => {
    timer = undefined
    if (stopped) return
    let now = clock.now()
    if (spunAt >= 0 && now - spunAt > SPIN_HELD_MS) timerUntil = now + SPIN_BACKOFF_MS
    spunAt = -1
    while (next !== undefined && start + next <= now) {
      const intended = start + next
      const index = schedule.issued - 1
      stats.sends.scheduled++
      if (inFlight >= maxInFlight) {
        stats.sends.dropped++
      } else {
        stats.recordSend(now - intended, lateAfterMs)
        inFlight++
        if (direct !== undefined) direct(intended, index, settle)
        else iteration(intended, index).then(settle, settle)
        now = clock.now()
      }
      next = schedule.next()
    }
    if (next === undefined) {
      stop()
      return
    }
    const ahead = start + next - now
    if (pacer !== undefined) pacer.arm(start + next)
    else if (!spin || now < timerUntil) timer = clock.setTimeout(tick, Math.max(0, ahead))
    else if (ahead > SPIN_WINDOW_MS) timer = clock.setTimeout(tick, ahead - SPIN_WINDOW_MS)
    else {
      spunAt = now
      immediate(tick)
    }
  }

  signal?.addEventListener('abort', stop, { once: true })
  if (signal?.aborted) stop()
  else tick()
  await scheduleDone
  signal?.removeEventListener('abort', stop)
  await pacer?.close()
  if (inFlight > 0) await new Promise<void>((resolve) => (drained = resolve))
  return start
}
