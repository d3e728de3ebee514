/**
 * HTTP headers for a decision: `RateLimit-Policy` and `RateLimit` as in the IETF httpapi
 * draft (structured fields: q = quota, w = window seconds, r = remaining, t = seconds to reset),
 * and `Retry-After` (seconds) on a refusal.
 */
import type { Decision } from './algorithms.js'

/** Header values for `decision` under the policy named `name`. */
export function rateLimitHeaders(
  decision: Decision,
  windowMs: number,
  name = 'default',
): Record<string, string> {
  const headers: Record<string, string> = {
    'RateLimit-Policy': `"${name}";q=${decision.limit};w=${Math.ceil(windowMs / 1000)}`,
    RateLimit: `"${name}";r=${decision.remaining};t=${Math.ceil(decision.resetMs / 1000)}`,
  }
  // a cost above the limit can never pass: no Retry-After to promise
  if (!decision.allowed && Number.isFinite(decision.retryAfterMs))
    headers['Retry-After'] = String(Math.max(1, Math.ceil(decision.retryAfterMs / 1000)))
  return headers
}
