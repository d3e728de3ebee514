/**
 * hotpath/db: one client over PostgreSQL (pg) and embedded PGlite, parameterized only, with
 * cached reads that are never stale (tables a write touches found by the PostgreSQL parser, views
 * expanded, transactions invalidated at commit, table versions against refill races), pool and
 * statement statistics and a slow-query log with plans.
 */

export {
  type AdviceReport,
  type AdviseOptions,
  adviseIndexes,
  applyAdvice,
  formatAdvice,
  type IndexSuggestion,
  type WorkloadEntry,
} from './advisor/advise.js'
export {
  Db,
  type DbEvents,
  type DbStats,
  type Queryable,
  type QueryResult,
  type Transaction,
} from './client.js'
export { createDb } from './create.js'
export type { PoolStats } from './driver.js'
export { DbQueryError, IndexesMissingError, type PgErrorFields, UncacheableError } from './errors.js'
export type { HistogramSnapshot } from './histogram.js'
export {
  type BatchFn,
  createLoader,
  type FastifyLike,
  Loader,
  type LoaderEvents,
  type LoaderOptions,
  type LoaderStats,
  scopeLoaders,
} from './loader.js'
export type { DbOptions, QueryCacheOptions, QueryOptions, SlowQueryOptions } from './options.js'
export type { PgClientLike, PgPoolLike } from './pg-pool.js'
export type { PGliteLike } from './pglite-driver.js'
export type { SlowQuery } from './slow.js'
export { type SqlFragment, type SqlStatement, sql } from './sql.js'
export type { StatementStats } from './statements.js'
