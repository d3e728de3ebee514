/**
 * The pacer thread: a wake-up at a sub-millisecond time for an event loop whose own timers have
 * 1 ms granularity. The loop arms a time in shared memory; the thread sleeps in `Atomics.wait`
 * (a futex with a nanosecond timeout: no spinning) until that time and posts a message, which
 * wakes the loop at once. A wake-up costs two thread switches (about 40 µs of CPU on a 2-vCPU
 * VM, against about 30 µs for a timer's own wake-up), so it suits rates where sends are at least
 * a fraction of a millisecond apart; see `resolvePacing`.
 *
 * The thread is a few lines of plain JavaScript evaluated in place (no module to resolve, so it
 * starts in tens of milliseconds from the sources and from the built package alike).
 */
import { Worker } from 'node:worker_threads'

/** The thread's loop. Int32 [0]: generation of the armed time, [1]: 1 to stop. Float64 [1]: the time. */
const THREAD = `
const { workerData, parentPort } = require('node:worker_threads')
const { performance } = require('node:perf_hooks')
const i32 = new Int32Array(workerData, 0, 2)
const f64 = new Float64Array(workerData, 8, 1)
const now = () => performance.timeOrigin + performance.now()
parentPort.postMessage(-1)
let posted = -1
for (;;) {
  const gen = Atomics.load(i32, 0)
  if (Atomics.load(i32, 1) === 1) break
  const at = f64[0]
  if (at === 0 || gen === posted) { Atomics.wait(i32, 0, gen); continue }
  const ahead = at - now()
  if (ahead > 0) { Atomics.wait(i32, 0, gen, ahead); continue }
  posted = gen
  parentPort.postMessage(gen)
}
`

/** A started pacer thread. */
export interface Pacer {
  /** Wakes the loop (calls the `onWake` given at start) at `at` (epoch ms, sub-millisecond); replaces the armed time. */
  arm(at: number): void
  /** Stops the thread; later `arm` calls do nothing. */
  close(): Promise<void>
}

/** What `startPacer` calls back. */
export interface PacerCallbacks {
  /** The armed time has come. */
  onWake: () => void
  /** The thread died: the caller paces on its own from now on. */
  onFail: (err: Error) => void
}

/**
 * Starts a pacer thread and resolves once it runs. Its clock is `performance.timeOrigin +
 * performance.now()` in its own thread: the same epoch milliseconds as the load tester's
 * `precisionClock`.
 */
export function startPacer(callbacks: PacerCallbacks): Promise<Pacer> {
  const shared = new SharedArrayBuffer(16)
  const i32 = new Int32Array(shared, 0, 2)
  const f64 = new Float64Array(shared, 8, 1)
  const worker = new Worker(THREAD, { eval: true, workerData: shared, stdout: false, stderr: false })
  let closed = false
  let ready = false
  let ended: Promise<void> | undefined
  return new Promise((resolve, reject) => {
    const pacer: Pacer = {
      arm(at) {
        if (closed) return
        f64[0] = at
        Atomics.add(i32, 0, 1)
        Atomics.notify(i32, 0)
      },
      close() {
        closed = true
        Atomics.store(i32, 1, 1)
        Atomics.notify(i32, 0)
        ended ??= worker.terminate().then(() => {})
        return ended
      },
    }
    worker.on('message', (gen: number) => {
      if (!ready) {
        ready = true
        resolve(pacer)
        return
      }
      // A wake-up for a time since replaced by a later one is stale.
      if (!closed && gen === Atomics.load(i32, 0)) callbacks.onWake()
    })
    const fail = (err: Error): void => {
      if (closed) return
      closed = true
      if (ready) callbacks.onFail(err)
      else reject(err)
    }
    worker.on('error', fail)
    worker.on('exit', (code) => fail(new Error(`pacer thread exited (code ${code})`)))
  })
}
