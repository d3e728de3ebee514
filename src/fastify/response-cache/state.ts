/**
 * The response cache's part of a request's state (one slot of the plugin's request state,
 * declared up front with decorateRequest).
 */
import type { CachePolicy } from './routes.js'
import type { Stored } from './stored.js'

/** What the cache knows about one GET/HEAD request on a cached route. */
export interface CacheRequest {
  policy: CachePolicy
  /** The route pattern (stats key). */
  route: string
  key: string
  /** The normalized path (the url tag). */
  path: string
  /** Set when this request leads a flight: settles it (true when the response was stored). */
  leader: ((stored: boolean) => void) | undefined
  /** A stale copy allowed for stale-if-error. */
  stale: Stored | undefined
  identityKeyed: boolean
  /** performance.now() when the handler started (what a hit saves). */
  start: number
  noStore: boolean
  /** The response cache produced the final payload in onSend (stored and encoded, or stale-if-error). */
  final: boolean
  /** This is the cache's own background refresh. */
  refresh: boolean
}
