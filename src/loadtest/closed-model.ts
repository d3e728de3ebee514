/**
 * The closed model: `vus` virtual users, each running iterations back to back with optional think
 * time. Throughput is whatever the server allows; latency is each request's own response time (a
 * closed model cannot see the requests a stalled server kept users from sending: use the open
 * model for latency SLOs).
 */
import { setMaxListeners } from 'node:events'
import type { Clock } from '../time.js'
import { sleep } from './clock.js'

/** Runs one iteration of virtual user `vu`. */
export type VuIteration = (vu: number, iteration: number) => Promise<void>

/** What `runClosedModel` needs. */
export interface ClosedModelRun {
  /** Number of virtual users. */
  vus: number
  /** How long the users keep starting iterations (ms). */
  durationMs: number
  /** Pause between a user's iterations (ms). */
  thinkMs: number
  /** Time source. */
  clock: Clock
  /** The work of one iteration. */
  iteration: VuIteration
  /** Stops the users after their current iteration. */
  signal?: AbortSignal
  /**
   * The same work as `iteration` without a promise: calls `done` once when finished. Used
   * instead of `iteration` when there is no think time (the capacity path).
   */
  direct?: (vu: number, iteration: number, done: () => void) => void
}

/** Runs the users until `durationMs` passes or `signal` aborts; resolves when all have stopped. */
export async function runClosedModel(run: ClosedModelRun): Promise<void> {
  const { clock, iteration, thinkMs, signal } = run
  const deadline = clock.now() + run.durationMs
  const stopTimer = new AbortController()
  // Every user's think time listens on this signal: thousands of listeners are expected.
  setMaxListeners(0, stopTimer.signal)
  const onAbort = (): void => stopTimer.abort()
  signal?.addEventListener('abort', onAbort, { once: true })
  let iterations = 0
  const user = async (vu: number): Promise<void> => {
    // with think time, the users' first iterations are spread evenly over one think time: users
    // that all start at once arrive as one synchronized burst that no real population makes,
    // and that burst would be most of a short run's tail
    const offset = thinkMs > 0 ? (vu * thinkMs) / run.vus : 0
    if (offset > 0) await sleep(clock, offset, stopTimer.signal)
    while (!stopTimer.signal.aborted && clock.now() < deadline) {
      // An iteration records its own failures; a throw here is a bug, not a reason to stop the user.
      // (try/await rather than .catch(): one promise fewer per iteration on the hot path)
      try {
        await iteration(vu, iterations++)
      } catch {}
      if (thinkMs > 0) await sleep(clock, thinkMs, stopTimer.signal)
    }
  }
  const direct = run.direct
  // A user without promises: `next` is its one continuation, called by each iteration's end.
  const directUser = (vu: number): Promise<void> =>
    new Promise<void>((resolve) => {
      let inCall = false
      let again = false
      const next = (): void => {
        // an iteration that ends before it returns (a destroyed pool) loops here, not deeper
        if (inCall) {
          again = true
          return
        }
        do {
          again = false
          if (stopTimer.signal.aborted || clock.now() >= deadline) {
            resolve()
            return
          }
          inCall = true
          ;(direct as NonNullable<typeof direct>)(vu, iterations++, next)
          inCall = false
        } while (again)
      }
      next()
    })
  const timer = clock.setTimeout(() => stopTimer.abort(), run.durationMs)
  try {
    const start = direct !== undefined && thinkMs === 0 ? directUser : user
    await Promise.all(Array.from({ length: run.vus }, (_, vu) => start(vu)))
  } finally {
    clock.clearTimeout(timer)
    signal?.removeEventListener('abort', onAbort)
  }
}
