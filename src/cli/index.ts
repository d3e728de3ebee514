/** The `hotpath` command line: the verb registry and the dispatcher (main.ts is the binary). */
export { numberFlag, parseFlags, UsageError } from './args.js'
export { COMMANDS, type Command, type CommandRun } from './commands.js'
export { type CliIo, processIo } from './io.js'
export { EXIT_USAGE, runCli } from './run.js'
