/**
 * The arguments of `query()`: a `sql` fragment, or a text and an array of parameters, and the
 * per-call options, checked once per call.
 */
import { assertKnownKeys, assertSignal } from '../options.js'
import { QUERY_CACHE_KEYS, QUERY_KEYS, type QueryCacheOptions, type QueryOptions } from './options.js'
import { isSqlFragment, type SqlStatement } from './sql.js'

const EMPTY: readonly unknown[] = Object.freeze([])
const NO_CACHE: QueryCacheOptions = Object.freeze({})

/** Splits query() arguments into text, parameters and options; refuses anything else. */
export function normalize(
  a: string | SqlStatement,
  b: readonly unknown[] | QueryOptions | undefined,
  c: QueryOptions | undefined,
): [string, readonly unknown[], QueryOptions | undefined] {
  if (typeof a === 'string') {
    if (b !== undefined && !Array.isArray(b)) {
      throw new TypeError('query(text, params, options): params must be an array of values')
    }
    return [a, (b as readonly unknown[] | undefined) ?? EMPTY, c]
  }
  if (!isSqlFragment(a)) {
    throw new TypeError(
      'query() takes a statement built with the sql tag, or a text and an array of parameters; values are never pasted into SQL text',
    )
  }
  if (Array.isArray(b)) throw new TypeError('a sql`...` statement carries its own values: pass options only')
  return [a.text, a.values, b as QueryOptions | undefined]
}

/** The per-call cache settings (validated), or undefined when the call is not cached. */
export function cacheOptions(opts: QueryOptions | undefined): QueryCacheOptions | undefined {
  if (opts === undefined) return undefined
  assertKnownKeys(opts, QUERY_KEYS, 'query options')
  assertSignal(opts.signal, 'query option signal')
  const c = opts.cache
  if (c === undefined || c === false) return undefined
  if (c === true) return NO_CACHE
  if (c === null || typeof c !== 'object')
    throw new TypeError(`query option cache must be a boolean or an object; received ${String(c)}`)
  assertKnownKeys(c, QUERY_CACHE_KEYS, 'query option cache')
  return c
}

/**
 * `transaction(fn, options)`'s arguments, refused before BEGIN (regression: a missing fn sent
 * BEGIN and failed with 'fn is not a function'; null options failed reading a property of null).
 */
export function checkTransactionArgs(fn: unknown, options: unknown): void {
  if (typeof fn !== 'function')
    throw new TypeError(`transaction(fn): fn must be a function (async (tx) => ...); received ${String(fn)}`)
  if (options === null || typeof options !== 'object')
    throw new TypeError(`transaction options must be an object; received ${String(options)}`)
  assertKnownKeys(options, ['signal'], 'transaction options')
  assertSignal((options as { signal?: unknown }).signal, 'transaction option signal')
}
