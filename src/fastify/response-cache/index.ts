/**
 * The response cache, split along the request/response seam: route rules (routes.ts), the
 * request side (lookup.ts), the response side (store.ts, with the pure rules in storable.ts) and
 * the stored representation (stored.ts), with fresh hits written straight to the response where
 * nothing is skipped by it (direct.ts). core.ts holds what both sides share.
 */

export { ResponseCache, type ResponseCacheOptions, type RouteCacheStats } from './core.js'
export { DirectHits } from './direct.js'
export { lookupRequest, type Next, preconditionForUnsafe } from './lookup.js'
export { type CachePolicy, type RouteCacheConfig, resolveCachePolicy } from './routes.js'
export type { CacheRequest } from './state.js'
export { invalidateAfterUnsafe, storeResponse } from './store.js'
export { type LookupOutcome, type ResponseCacheTrace, tracedLookup, tracingChannels } from './tracing.js'
