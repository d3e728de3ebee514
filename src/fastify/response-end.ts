/**
 * What the plugin does when a response ends: request metrics (the in-flight gauge and the
 * duration histogram), the adaptive limit's slot, a response-cache flight left unsettled. One
 * 'close' listener on Node's response per request: Node (HTTP/1 and HTTP/2) and Fastify's inject
 * emit 'close' once, after the response ended or when the client went away before it did (a
 * response still queued behind another on a pipelined connection: its request's 'close').
 *
 * Not Fastify's onResponse hook: it never runs for a request whose client went away (regression:
 * the in-flight gauge kept one per aborted request for good), and it costs every request two
 * listeners added and removed, two clock reads and a hook run, where this is one listener on an
 * empty event slot, shared by every request (its state rides on the response under a symbol).
 */
import type { FastifyReply } from 'fastify'
import type { AdaptiveLimit } from '../resilience/index.js'
import type { RequestMetrics, RouteDurations } from './request-metrics.js'
import type { HotpathRequestState } from './request-state.js'

/** One route's end-of-response work, resolved when the route is registered. */
export interface RouteEnd {
  /** Request metrics (undefined: the route is not measured). */
  metrics: RequestMetrics | undefined
  durations: RouteDurations | undefined
  /** The adaptive concurrency limit whose slot a request of the route may hold. */
  adaptive: AdaptiveLimit | undefined
}

const STATE = Symbol('hotpath.requestState')
const RESPONSE = Symbol('hotpath.response')

interface Tracked {
  [STATE]?: HotpathRequestState
  writableEnded: boolean
  writableFinished: boolean
  statusCode: number
  socket?: unknown
  req?: { method?: string; aborted?: boolean }
}

interface TrackedRequest {
  [RESPONSE]?: Tracked
  aborted?: boolean
  on(event: 'close', fn: () => void): void
}

/** Starts tracking the response of a request whose route has end-of-response work. */
export function trackEnd(reply: FastifyReply, state: HotpathRequestState, end: RouteEnd): void {
  state.end = end
  if (end.metrics !== undefined) {
    end.metrics.inflight.add(1)
    if (state.start === 0) state.start = performance.now()
  }
  const res = reply.raw as unknown as Tracked & { on(event: 'close', fn: () => void): void }
  res[STATE] = state
  res.on('close', closed)
  // a response queued behind another on its HTTP/1 connection (pipelining) has no socket yet,
  // and Node emits no 'close' on it when the client goes away; its request's 'close' (aborted)
  // is that end (regression: the in-flight gauge and the adaptive slot leaked for good)
  if (res.socket === null) {
    const req = reply.request.raw as unknown as TrackedRequest
    req[RESPONSE] = res
    req.on('close', requestClosed)
  }
}

function requestClosed(this: TrackedRequest): void {
  const res = this[RESPONSE]
  if (this.aborted === true && res !== undefined) ended(res)
}

function closed(this: Tracked): void {
  ended(this)
}

function ended(res: Tracked): void {
  const state = res[STATE]
  const end = state?.end
  if (state === undefined || end === undefined) return
  state.end = undefined
  // written to its end: flushed, or ended where nothing is flushed (inject) by a client that
  // stayed. A response ended while queued on a pipelined connection whose client went away was
  // never sent (Node 24 emits 'close' on it, Node 20 only its request's)
  const finished = res.writableFinished || (res.writableEnded && res.req?.aborted !== true)
  if (state.slot !== undefined) {
    // a 5xx or a client that went away is a drop for the latency-driven limit
    end.adaptive?.release(state.slot, !finished || res.statusCode >= 500)
    state.slot = undefined
  }
  state.cache?.leader?.(false)
  if (end.metrics !== undefined) {
    end.metrics.inflight.add(-1)
    // a response that never finished has no duration worth a bucket (nor a status it was sent with)
    if (finished && end.durations !== undefined)
      end.durations.observe(
        res.req?.method ?? 'GET',
        res.statusCode,
        (performance.now() - state.start) / 1000,
      )
  }
}
