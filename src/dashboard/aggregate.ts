/**
 * The aggregate of several instances' frames for one tick: counts add up (they are deltas, so the
 * sum over time is the sum of the instances' totals), percentiles are recomputed from the summed
 * buckets (never averaged), levels take the latest frame of each live instance.
 */
import { emptyRoute, settle } from './frame-builder.js'
import { addInto } from './quantiles.js'
import type { Frame, RouteFigures } from './types.js'

/**
 * `o[key]` when it is o's own: a series named `constructor` or `toString` must not read
 * Object.prototype's (the sum was 'function Object() { [native code] }1').
 */
function own<T>(o: Record<string, T>, key: string): T | undefined {
  return Object.hasOwn(o, key) ? o[key] : undefined
}

function addRoute(into: RouteFigures, r: RouteFigures): void {
  into.n += r.n
  for (const [k, n] of Object.entries(r.status)) into.status[k] = (own(into.status, k) ?? 0) + n
  addInto(into.b, r.b)
}

/**
 * Aggregates `deltas` (every frame received in the tick, own included) with `latest` (the newest
 * frame of each live instance, for cumulative figures and levels) into one frame '*'.
 */
export function aggregate(
  deltas: readonly Frame[],
  latest: readonly Frame[],
  bounds: readonly number[],
  t: number,
  dt: number,
  seq: number,
): Frame {
  const width = bounds.length + 1
  const out: Frame = {
    seq,
    t,
    dt,
    instance: '*',
    http: { ...emptyRoute(width), total: 0, inflight: 0, routes: {} },
    loop: { maxMs: 0, meanMs: 0, elu: 0 },
    mem: { heapUsed: 0, heapTotal: 0, rss: 0 },
    gc: { n: 0, ms: 0 },
    cache: {},
    shed: 0,
    rateLimited: 0,
    panels: {},
    ext: {},
  }
  for (const f of deltas) {
    addRoute(out.http, f.http)
    for (const [key, r] of Object.entries(f.http.routes)) {
      const into = own(out.http.routes, key) ?? emptyRoute(width)
      addRoute(into, r)
      out.http.routes[key] = into
    }
    out.gc.n += f.gc.n
    out.gc.ms += f.gc.ms
    for (const [k, c] of Object.entries(f.cache)) {
      const into = own(out.cache, k) ?? { hits: 0, misses: 0 }
      into.hits += c.hits
      into.misses += c.misses
      out.cache[k] = into
    }
    out.shed += f.shed
    out.rateLimited += f.rateLimited
    for (const [id, series] of Object.entries(f.panels)) {
      const into = own(out.panels, id) ?? {}
      for (const [k, v] of Object.entries(series)) into[k] = (own(into, k) ?? 0) + v
      out.panels[id] = into
    }
    Object.assign(out.ext, f.ext)
  }
  settle(out.http, bounds)
  for (const r of Object.values(out.http.routes)) settle(r, bounds)
  for (const f of latest) {
    out.http.total += f.http.total
    out.http.inflight += f.http.inflight
    out.mem.heapUsed += f.mem.heapUsed
    out.mem.heapTotal += f.mem.heapTotal
    out.mem.rss += f.mem.rss
    out.loop.maxMs = Math.max(out.loop.maxMs, f.loop.maxMs)
    out.loop.meanMs += f.loop.meanMs / latest.length
    out.loop.elu += f.loop.elu / latest.length
  }
  return out
}
