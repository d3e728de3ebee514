/** The live progress line: redrawn in place on a terminal, one plain line a second otherwise. */
import { formatMs, type LiveFigures, type TimelinePoint } from '../loadtest/index.js'
import type { CliIo } from './io.js'

/** A progress printer for `onProgress`, and `done()` to end a redrawn line. */
export function progressPrinter(io: CliIo): {
  onProgress: (p: TimelinePoint, live: LiveFigures) => void
  done(): void
} {
  let drawn = false
  return {
    onProgress(_point, live) {
      const errorPct = live.requests === 0 ? 0 : (live.errors / live.requests) * 100
      const line = `[${live.elapsed.toFixed(0).padStart(4)}s] ${String(live.rate).padStart(6)} req/s  errors ${live.errors} (${errorPct.toFixed(2)}%)  p50 ${formatMs(live.p50)}  p99 ${formatMs(live.p99)}  in flight ${live.inFlight}${live.dropped > 0 ? `  dropped ${live.dropped}` : ''}`
      if (io.isTTY) {
        io.err(`\r\x1b[K${line}\x1b[1A`)
        drawn = true
      } else io.err(line)
    },
    done() {
      if (drawn) io.err('\r\x1b[K\x1b[1A')
    },
  }
}
