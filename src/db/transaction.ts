/**
 * The handle a transaction callback receives: statements run on the transaction's connection,
 * never cached (they see the transaction's own writes); the tables written are collected so the
 * client can invalidate them once COMMIT is sent, and not at all on rollback.
 */
import { ClosedError } from '../errors.js'
import { cacheOptions, normalize } from './args.js'
import type { Entry, Resolved } from './cached-read.js'
import type { CatalogQuery } from './catalog.js'
import type { RawResult, Runner } from './driver.js'
import type { QueryOptions } from './options.js'
import type { SqlStatement } from './sql.js'
import type { Transaction } from './types.js'

/** What a transaction handle needs from the client. */
export interface TxDeps {
  entry(text: string): Entry | Promise<Entry>
  resolve(e: Entry, run: CatalogQuery): Promise<Resolved>
  exec(
    e: Entry,
    params: readonly unknown[],
    signal: AbortSignal | undefined,
    runner: Runner,
  ): Promise<RawResult>
}

/**
 * A handle over `conn`; `writes` collects the tables written, `state.other` DDL and the like.
 * Once the callback has returned or thrown (`state.ended`) the handle refuses statements: its
 * connection is committing or back in the pool (regression: a statement from a handle kept
 * past its transaction, or a query() the callback forgot to await, ran after COMMIT on a
 * connection that was no longer its own, outside any transaction, and its write was never
 * invalidated).
 */
export function txHandle(
  d: TxDeps,
  conn: Runner,
  writes: Set<string>,
  state: { other: boolean; ended: boolean },
): Transaction {
  const ended = () => {
    if (state.ended) throw new ClosedError('this transaction (its callback has returned)')
  }
  const run: CatalogQuery = (text, params) => conn.run(text, params, undefined)
  const query = async (a: string | SqlStatement, b?: readonly unknown[] | QueryOptions, c?: QueryOptions) => {
    ended()
    const [text, params, opts] = normalize(a, b, c)
    if (opts !== undefined) cacheOptions(opts)
    const e = await d.entry(text)
    const k = e.analysis.kind
    // every statement of the text, not its first word (regression: 'SAVEPOINT a; COMMIT' ended the
    // transaction early, and 'SAVEPOINT a; UPDATE ...' wrote without its table being invalidated)
    if (k === 'tx' && !e.analysis.savepoint) {
      throw new TypeError(
        'the transaction commits or rolls back when its callback returns or throws; do not send COMMIT or ROLLBACK',
      )
    }
    // after DDL or a change of search_path in this transaction its names resolve as nowhere else
    // (an uncommitted view, another schema), and COMMIT invalidates everything anyway: nothing is
    // resolved then, so nothing of it is kept for the client (regression: a view redefined in a
    // transaction that rolled back kept its uncommitted base tables, so later writes through it
    // invalidated the wrong table)
    if (k === 'write' && !state.other) {
      for (const t of (await d.resolve(e, run)).writes) writes.add(t)
    } else if (k === 'other') state.other = true
    ended()
    const r = await d.exec(e, params, opts?.signal, conn)
    return { rows: r.rows, rowCount: r.rowCount, cached: false }
  }
  return { query } as Transaction
}
