/**
 * The verbs of `hotpath`. Each is loaded only when called, so `hotpath serve` does not load the
 * load tester (nor `advise` the database driver). To add a verb (`advise`, `bench`), add one
 * entry here: a name, a one-line summary for `hotpath --help`, and a loader of its module.
 */
import type { CliIo } from './io.js'

/** A verb's entry point: gets the arguments after the verb, resolves with the exit code. */
export type CommandRun = (argv: string[], io: CliIo) => Promise<number>

/** A verb of the `hotpath` command. */
export interface Command {
  /** What the user types: `hotpath <name>`. */
  name: string
  /** One line for `hotpath --help`. */
  summary: string
  /** Loads the verb's module (lazily). */
  load: () => Promise<CommandRun>
}

/** The registered verbs, in help order. */
export const COMMANDS: readonly Command[] = [
  {
    name: 'serve',
    summary: 'run the reference server (the agent gateway) from this checkout',
    load: async () => (await import('./serve.js')).serveCommand,
  },
  {
    name: 'loadtest',
    summary: 'load-test a URL: open or closed model, thresholds, JSON report; `loadtest merge a.json b.json`',
    load: async () => (await import('./loadtest.js')).loadtestCommand,
  },
  {
    name: 'advise',
    summary: 'index advice for a PostgreSQL workload: missing, unused and duplicate indexes; --check for CI',
    load: async () => (await import('./advise.js')).adviseCommand,
  },
]
