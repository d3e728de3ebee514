/**
 * The response cache's `diagnostics_channel` TracingChannel: one trace per lookup of a GET/HEAD
 * on a cached route, with what the lookup decided. Nothing is published, and nothing allocated,
 * unless somebody subscribes.
 */
import diagnostics_channel from 'node:diagnostics_channel'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { HotpathRequestState } from '../request-state.js'
import type { ResponseCache } from './core.js'
import type { DirectHits } from './direct.js'
import { lookupRequest, type Next } from './lookup.js'
import type { CachePolicy } from './routes.js'

/** What a response-cache lookup decided. */
export type LookupOutcome =
  /** a stored response was sent (fresh, or a 304) */
  | 'hit'
  /** a stale stored response was sent (stale-while-revalidate) */
  | 'stale'
  /** the response a concurrent identical request produced was sent */
  | 'coalesced'
  /** the handler runs and its response may be stored (this request leads the flight) */
  | 'miss'
  /** the handler runs and the cache stays out of it (credentials, a bypass header, hit-for-miss) */
  | 'bypass'

/** The context of a `hotpath:fastify.responseCache` trace. */
export interface ResponseCacheTrace {
  /** GET or HEAD. */
  readonly method: string
  /** The request URL as received. */
  readonly url: string
  /** The route pattern. */
  readonly route: string
  /** Set when the lookup settles. */
  outcome?: LookupOutcome
}

/** The Fastify layer's tracing channels, named `hotpath:fastify.<operation>`. */
export const tracingChannels = Object.freeze({
  /** Each response-cache lookup: context {@link ResponseCacheTrace}. */
  responseCache: diagnostics_channel.tracingChannel<unknown, ResponseCacheTrace>(
    'hotpath:fastify.responseCache',
  ),
})

/** lookupRequest inside a trace (call only when the channel has subscribers). */
export function tracedLookup(
  rc: ResponseCache,
  request: FastifyRequest,
  reply: FastifyReply,
  state: HotpathRequestState,
  route: string,
  policy: CachePolicy,
  direct?: DirectHits,
): Promise<Next> {
  const trace: ResponseCacheTrace = { method: request.method, url: request.url, route, outcome: undefined }
  return tracingChannels.responseCache.tracePromise(
    () =>
      Promise.resolve(lookupRequest(rc, request, reply, state, route, policy, direct)).then((next) => {
        const o = state.outcome
        trace.outcome =
          o === 'hit' || o === 'stale' || o === 'coalesced'
            ? o
            : state.cache?.leader !== undefined
              ? 'miss'
              : 'bypass'
        return next
      }),
    trace,
  )
}
