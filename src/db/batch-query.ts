/**
 * `db.batchQuery()`: many statements with at most `concurrency` at once, results in order, on
 * the resilience part's batchExecute.
 */
import { assertKnownKeys } from '../options.js'
import { batchExecute } from '../resilience/index.js'
import type { QueryOptions } from './options.js'
import type { SqlStatement } from './sql.js'
import type { Queryable, QueryResult } from './types.js'

/** One statement of a batch: a `sql` statement or `[text, params]`. */
export type BatchItem = SqlStatement | readonly [string, readonly unknown[]]

/** Options of `batchQuery()`. */
export interface BatchQueryOptions {
  /** Most statements at once. @default the pool's size */
  concurrency?: number
  signal?: AbortSignal
  /** Cache settings applied to every statement (reads only). */
  cache?: QueryOptions['cache']
}

/** Runs `items` on `db`; rejects with the first failure (statements not yet started then do not start). */
export async function batchQuery<T>(
  db: Queryable,
  items: readonly BatchItem[],
  options: BatchQueryOptions,
  poolSize: number,
): Promise<Array<QueryResult<T>>> {
  if (!Array.isArray(items)) throw new TypeError('batchQuery() takes an array of statements')
  assertKnownKeys(options, ['concurrency', 'signal', 'cache'], 'batchQuery options')
  const opts: QueryOptions = {}
  if (options.cache !== undefined) opts.cache = options.cache
  const tasks = items.map((item) => (signal: AbortSignal) => {
    const o = { ...opts, signal }
    return Array.isArray(item)
      ? db.query<T>(item[0] as string, item[1] as readonly unknown[], o)
      : db.query<T>(item as SqlStatement, o)
  })
  const settled = await batchExecute(tasks, {
    concurrency: options.concurrency ?? Math.max(1, poolSize),
    stopOnError: true,
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  })
  const failed = settled.find((s) => s.status === 'rejected')
  if (failed !== undefined) throw failed.reason
  const skipped = settled.find((s) => s.status === 'skipped')
  if (skipped !== undefined) throw skipped.reason
  return settled.map((s) => (s as { value: QueryResult<T> }).value)
}
