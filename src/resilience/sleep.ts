/** Waiting on the injectable clock, abortable. */
import { AbortedError } from '../errors.js'
import { type Clock, MAX_TIMER_MS } from '../time.js'

/**
 * Resolves after `ms` on `clock`; rejects with E_ABORTED when `signal` aborts first. A wait
 * longer than a timer can hold (a custom backoff may ask for one) is served in steps: Node would
 * fire a longer timer after 1 ms.
 */
export function sleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(new AbortedError(signal.reason))
  return new Promise<void>((resolve, reject) => {
    let timer: unknown
    const onAbort = () => {
      clock.clearTimeout(timer)
      reject(new AbortedError(signal?.reason))
    }
    const arm = (left: number) => {
      timer = clock.setTimeout(
        () => {
          if (left > MAX_TIMER_MS) return arm(left - MAX_TIMER_MS)
          signal?.removeEventListener('abort', onAbort)
          resolve()
        },
        Math.min(left, MAX_TIMER_MS),
      )
    }
    arm(ms)
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}
