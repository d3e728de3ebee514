/**
 * The route config of a request, read once. Fastify's `request.routeOptions` builds a new
 * object on every access; the hooks need the config several times per request.
 */
import type { FastifyContextConfig, FastifyRequest } from 'fastify'

const CFG = Symbol('hotpath.routeConfig')

/** The route's config (with `url` and `method`), cached on the request. */
export function routeConfig(
  request: FastifyRequest,
): FastifyContextConfig & { url?: string; method?: string } {
  const r = request as unknown as Record<symbol, FastifyContextConfig | undefined>
  let cfg = r[CFG]
  if (cfg === undefined) {
    cfg = request.routeOptions.config ?? {}
    r[CFG] = cfg
  }
  return cfg as FastifyContextConfig & { url?: string; method?: string }
}
