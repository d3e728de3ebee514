/** A generator thread: runs the load test it is sent and posts back its report. */
import { parentPort } from 'node:worker_threads'
import type { LoadTestOptions } from './options.js'
import { runLoadTest } from './run.js'

const port = parentPort
if (port !== null) {
  const stop = new AbortController()
  port.on('message', (message: { run?: LoadTestOptions; stop?: true }) => {
    if (message.stop === true) {
      stop.abort()
      return
    }
    if (message.run === undefined) return
    runLoadTest({ ...message.run, signal: stop.signal }).then(
      (report) => port.postMessage({ report }),
      (err: unknown) => port.postMessage({ error: err instanceof Error ? err.message : String(err) }),
    )
  })
}
