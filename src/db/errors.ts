/**
 * Coded errors of hotpath/db. A failed statement keeps what PostgreSQL said about it (SQLSTATE,
 * the character position in the statement, detail, hint, constraint) so a caller can branch on
 * `sqlState` ('23505' unique violation, '40001' serialization failure...) without parsing text.
 */
import { HotpathError } from '../errors.js'

/** What PostgreSQL (or PGlite) reported about a failed statement. */
export interface PgErrorFields {
  /** SQLSTATE, five characters ('42P01' undefined table, '23505' unique violation...). */
  readonly sqlState: string | undefined
  /** 1-based character position in the statement text where the error was found. */
  readonly position: number | undefined
  /** Severity as the server reported it ('ERROR', 'FATAL'...). */
  readonly severity: string | undefined
  readonly detail: string | undefined
  readonly hint: string | undefined
  readonly table: string | undefined
  readonly column: string | undefined
  readonly constraint: string | undefined
}

/** A statement failed on the server (or could not be sent): `sqlState` and `position` say why and where. */
export class DbQueryError extends HotpathError implements PgErrorFields {
  readonly sqlState: string | undefined
  readonly position: number | undefined
  readonly severity: string | undefined
  readonly detail: string | undefined
  readonly hint: string | undefined
  readonly table: string | undefined
  readonly column: string | undefined
  readonly constraint: string | undefined
  /** The statement text (never the parameter values, which may be secrets). */
  readonly statement: string

  constructor(statement: string, cause: unknown) {
    const f = pgFields(cause)
    const msg = cause instanceof Error ? cause.message : String(cause)
    const where = f.position === undefined ? '' : ` at character ${f.position}`
    const state = f.sqlState === undefined ? '' : ` (SQLSTATE ${f.sqlState})`
    super('E_DB_QUERY', `query failed${state}${where}: ${msg}`, { cause, statusCode: statusFor(f.sqlState) })
    this.sqlState = f.sqlState
    this.position = f.position
    this.severity = f.severity
    this.detail = f.detail
    this.hint = f.hint
    this.table = f.table
    this.column = f.column
    this.constraint = f.constraint
    this.statement = statement
  }
}

/** A read asked for `cache` but its statement cannot be cached safely (unparsable, or not a plain read). */
export class UncacheableError extends HotpathError {
  constructor(reason: string) {
    super('E_DB_UNCACHEABLE', `this statement cannot be cached: ${reason}; run it without the cache option`)
  }
}

/** The index advisor's check mode found indexes the workload needs. */
export class IndexesMissingError extends HotpathError {
  /** The CREATE INDEX statements that would fix it. */
  readonly statements: readonly string[]
  constructor(statements: readonly string[]) {
    super(
      'E_DB_INDEXES_MISSING',
      `${statements.length} index${statements.length === 1 ? ' is' : 'es are'} missing for the workload: ${statements.join('; ')}`,
    )
    this.statements = statements
  }
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v.length > 0 ? v : undefined
}

/** Reads the server's error fields from a pg or PGlite error (both use pg-protocol's DatabaseError). */
export function pgFields(err: unknown): PgErrorFields {
  const e = (err !== null && typeof err === 'object' ? err : {}) as Record<string, unknown>
  const pos = Number(e.position)
  const code = str(e.code)
  return {
    sqlState: code !== undefined && /^[0-9A-Z]{5}$/.test(code) ? code : undefined,
    position: Number.isInteger(pos) && pos > 0 ? pos : undefined,
    severity: str(e.severity),
    detail: str(e.detail),
    hint: str(e.hint),
    table: str(e.table),
    column: str(e.column),
    constraint: str(e.constraint),
  }
}

// Constraint violations are the caller's input (409); a server that is going away is 503.
function statusFor(state: string | undefined): number {
  if (state === undefined) return 500
  if (state.startsWith('23')) return 409
  if (state.startsWith('08') || state.startsWith('57P') || state === '53300') return 503
  return 500
}
