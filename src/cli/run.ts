/** Dispatches `hotpath <verb>` through the registry in commands.ts. */
import { isHotpathError } from '../errors.js'
import { closestName } from '../options.js'
import { UsageError } from './args.js'
import { COMMANDS } from './commands.js'
import type { CliIo } from './io.js'

/** Exit code of a usage or input error. */
export const EXIT_USAGE = 2

function help(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length))
  return [
    'usage: hotpath <command> [options]   (hotpath <command> --help for its options)',
    '',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
  ].join('\n')
}

/** Runs the CLI with `argv` (the arguments after `hotpath`); resolves with the exit code. */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const [verb, ...rest] = argv
  if (verb === undefined || verb === '--help' || verb === '-h' || verb === 'help') {
    io.out(help())
    return verb === undefined ? EXIT_USAGE : 0
  }
  if (verb === '--version' || verb === '-v') {
    const { createRequire } = await import('node:module')
    io.out((createRequire(import.meta.url)('../../package.json') as { version: string }).version)
    return 0
  }
  const command = COMMANDS.find((c) => c.name === verb)
  if (command === undefined) {
    const near = closestName(
      verb,
      COMMANDS.map((c) => c.name),
    )
    io.err(
      `hotpath: unknown command "${verb}"${near === undefined ? '' : `; did you mean "${near}"?`}\n\n${help()}`,
    )
    return EXIT_USAGE
  }
  const run = await command.load()
  try {
    return await run(rest, io)
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`hotpath ${verb}: ${err.message} (hotpath ${verb} --help for usage)`)
      return EXIT_USAGE
    }
    if (isHotpathError(err, 'E_SCENARIO') || isHotpathError(err, 'E_LOADTEST_REPORT')) {
      io.err(`hotpath ${verb}: ${err.message}`)
      return EXIT_USAGE
    }
    if (err instanceof TypeError || err instanceof RangeError) {
      io.err(`hotpath ${verb}: ${err.message}`)
      return EXIT_USAGE
    }
    throw err
  }
}
