/** Waiting on the injectable clock, abortable. */
import { AbortedError } from '../errors.js'
import type { Clock } from '../time.js'

/** Resolves after `ms` on `clock`; rejects with E_ABORTED when `signal` aborts first. */
export function sleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(new AbortedError(signal.reason))
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => {
      clock.clearTimeout(timer)
      reject(new AbortedError(signal?.reason))
    }
    const timer = clock.setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}
