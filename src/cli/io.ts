/** Where a command writes and how it learns of Ctrl-C (tests pass their own). */
export interface CliIo {
  /** Normal output (the report). */
  out(text: string): void
  /** Diagnostics and progress. */
  err(text: string): void
  /** stderr is a terminal: progress may redraw one line. */
  isTTY: boolean
  /** Registers a Ctrl-C / SIGTERM handler; returns its remover. */
  onInterrupt(handler: () => void): () => void
  /** Environment variables. */
  env: NodeJS.ProcessEnv
}

/** The process's own streams and signals. */
export function processIo(): CliIo {
  return {
    out: (text) => process.stdout.write(`${text}\n`),
    err: (text) => process.stderr.write(`${text}\n`),
    isTTY: process.stderr.isTTY === true,
    onInterrupt(handler) {
      process.on('SIGINT', handler)
      process.on('SIGTERM', handler)
      return () => {
        process.off('SIGINT', handler)
        process.off('SIGTERM', handler)
      }
    },
    env: process.env,
  }
}
