/**
 * batchExecute(tasks, { concurrency }): runs tasks with bounded concurrency; results come back
 * in task order, each settled on its own. With `stopOnError`, no task starts after the first
 * failure (those are reported as skipped).
 */
import { AbortedError } from '../errors.js'
import { assertKnownKeys } from '../options.js'

/** The outcome of one task. */
export type Settled<T> =
  | { status: 'fulfilled'; value: T }
  | { status: 'rejected'; reason: unknown }
  | { status: 'skipped'; reason: unknown }

/** Options of `batchExecute()`. */
export interface BatchOptions {
  /** Tasks running at once. @default 10 */
  concurrency?: number
  /** Stop starting tasks when this aborts (running ones get the signal). */
  signal?: AbortSignal
  /** Start no further task after the first failure. @default false */
  stopOnError?: boolean
}

/** Runs `tasks` with at most `concurrency` at once; results in task order. */
export async function batchExecute<T>(
  tasks: ReadonlyArray<(signal: AbortSignal) => T | Promise<T>>,
  options: BatchOptions = {},
): Promise<Array<Settled<T>>> {
  if (!Array.isArray(tasks))
    throw new TypeError(`tasks must be an array of functions; received ${typeof tasks}`)
  const bad = tasks.findIndex((t) => typeof t !== 'function')
  if (bad >= 0) throw new TypeError(`tasks[${bad}] must be a function; received ${typeof tasks[bad]}`)
  assertKnownKeys(options, ['concurrency', 'signal', 'stopOnError'], 'batchExecute options')
  const concurrency = options.concurrency ?? 10
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new RangeError(`concurrency must be an integer >= 1; received ${concurrency}`)
  }
  const results = new Array<Settled<T>>(tasks.length)
  const controller = new AbortController()
  const outer = options.signal
  const onAbort = () => controller.abort(outer?.reason)
  if (outer?.aborted) controller.abort(outer.reason)
  else outer?.addEventListener('abort', onAbort, { once: true })
  let next = 0
  let failed = false
  const worker = async (): Promise<void> => {
    while (next < tasks.length) {
      const i = next++
      if (controller.signal.aborted || (failed && options.stopOnError === true)) {
        results[i] = {
          status: 'skipped',
          reason: controller.signal.aborted ? new AbortedError(outer?.reason) : 'stopOnError',
        }
        continue
      }
      try {
        results[i] = {
          status: 'fulfilled',
          value: await (tasks[i] as (s: AbortSignal) => T | Promise<T>)(controller.signal),
        }
      } catch (reason) {
        failed = true
        results[i] = { status: 'rejected', reason }
      }
    }
  }
  try {
    await Promise.all(Array.from({ length: Math.min(concurrency, tasks.length) }, worker))
  } finally {
    outer?.removeEventListener('abort', onAbort)
  }
  return results
}
