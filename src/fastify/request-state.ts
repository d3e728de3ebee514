/**
 * The plugin's one per-request slot (`request.hotpath`, declared with decorateRequest): set once
 * in onRequest, with a fixed shape, instead of run-time symbols on the request.
 */
import type { AdaptiveLimitToken } from '../resilience/index.js'
import type { CacheRequest } from './response-cache/state.js'
import type { RouteEnd } from './response-end.js'

/**
 * Who answered a request, recorded by the hook that produced the answer: `handler` (the route
 * ran), `hit` / `stale` / `coalesced` (the response cache), `precondition-failed` (412 for an
 * unsafe method), `shed` (load shedding) or `rate-limited` (429).
 */
export type Outcome =
  | 'handler'
  | 'hit'
  | 'stale'
  | 'coalesced'
  | 'precondition-failed'
  | 'shed'
  | 'rate-limited'

/** The state of one request. */
export class HotpathRequestState {
  /** performance.now() at onRequest (the envelope's durationMs; request metrics use Fastify's reply.elapsedTime). */
  start = 0
  /** The adaptive-limit slot held by the request. */
  slot: AdaptiveLimitToken | undefined = undefined
  outcome: Outcome = 'handler'
  /** The response cache's state, on cached routes. */
  cache: CacheRequest | undefined = undefined
  /** The route's end-of-response work, until the response ends (response-end.ts). */
  end: RouteEnd | undefined = undefined
}

/** True when the reply was produced in onRequest by a hook of this plugin (nothing more to do in onSend). */
export function answeredEarly(state: HotpathRequestState | null): boolean {
  return state !== null && state.outcome !== 'handler'
}
