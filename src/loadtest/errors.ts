/**
 * Coded errors of the load tester. Each names where the bad input is (file, line, field) and what
 * to write instead.
 */
import { HotpathError } from '../errors.js'

/** Where a bad value was found. */
export interface Location {
  /** File the value came from (`undefined` for command-line flags and options objects). */
  file?: string
  /** 1-based line in `file`, when known. */
  line?: number
  /** The field, as a path: `steps[1].method`, `--rate`. */
  field: string
}

/** A scenario, a flag or a target is invalid: the message names file, line and field. */
export class ScenarioError extends HotpathError {
  readonly file: string | undefined
  readonly line: number | undefined
  readonly field: string

  constructor(where: Location, problem: string) {
    const place =
      where.file === undefined ? '' : `${where.file}${where.line === undefined ? '' : `:${where.line}`}: `
    super('E_SCENARIO', `${place}${where.field}: ${problem}`)
    this.file = where.file
    this.line = where.line
    this.field = where.field
  }
}

/** A JSON report given to `merge` or `--baseline` cannot be read or is not a hotpath report. */
export class ReportFileError extends HotpathError {
  readonly file: string

  constructor(file: string, problem: string, cause?: unknown) {
    super('E_LOADTEST_REPORT', `${file}: ${problem}`, { cause })
    this.file = file
  }
}
