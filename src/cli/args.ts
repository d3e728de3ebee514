/**
 * Flag parsing on `node:util` parseArgs, with the house's closest-name hint for a misspelt flag
 * and errors that name the flag.
 */
import { type ParseArgsConfig, parseArgs } from 'node:util'
import { closestName } from '../options.js'

/** A usage mistake: printed with the verb's usage, exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'UsageError'
  }
}

/** Flag declarations, as `node:util` parseArgs takes them. */
export type FlagOptions = NonNullable<ParseArgsConfig['options']>

/** What `parseFlags` returns: the flags' values and the positional arguments. */
export type ParsedFlags<O extends FlagOptions> = ReturnType<
  typeof parseArgs<{ args: string[]; options: O; allowPositionals: true; strict: true }>
>

/** Parses `argv` against `options`; throws `UsageError` naming the unknown or malformed flag. */
export function parseFlags<O extends FlagOptions>(argv: string[], options: O): ParsedFlags<O> {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true })
  } catch (err) {
    const e = err as { code?: string; message: string }
    if (e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
      const flag = /'(-{1,2}[^']+)'/.exec(e.message)?.[1] ?? ''
      const names = Object.keys(options)
      const near = closestName(flag.replace(/^-+/, '').split('=')[0] ?? '', names)
      throw new UsageError(`unknown flag ${flag}${near === undefined ? '' : `; did you mean --${near}?`}`)
    }
    // every line: the later ones say what to do ("--rate -5": use '--rate=-XYZ')
    throw new UsageError(e.message.replace(/\s*\n\s*/g, ' '))
  }
}

/** A flag that must be a number (`min` inclusive). */
export function numberFlag(
  value: string | undefined,
  flag: string,
  min = 0,
  integer = false,
): number | undefined {
  if (value === undefined) return undefined
  const n = Number(value)
  if (value.trim() === '' || !Number.isFinite(n) || n < min || (integer && !Number.isInteger(n)))
    throw new UsageError(
      `--${flag} must be ${integer ? 'a whole number' : 'a number'} >= ${min}; received ${JSON.stringify(value)}`,
    )
  return n
}
