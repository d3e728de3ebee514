/**
 * A fresh hit written straight to Node's response: one `writeHead` with the header list of the
 * stored entry, then `end(body)`, and the reply hijacked. Through `reply.send`, a hit paid for a
 * content-type parse, a header call per header, the onSend hook run and Fastify's own
 * `writeHead`: about 10% of a small hit's server CPU (bench/README.md, fastify, "Direct hits").
 *
 * Only where nothing is skipped by it:
 * - HTTP/1 (Node's `ServerResponse`);
 * - a route whose only onSend hook is the plugin's own, which has nothing to do for a hit: when
 *   the app or another plugin has an onSend hook on the route, every hit goes through
 *   `reply.send`, so that hook sees it as before;
 * - headers that earlier hooks set on the reply (CORS, rate limits) are written too; the stored
 *   ones win a clash, as through `reply.send`.
 *
 * Fastify's route context and reply headers are read through their symbols, found once by their
 * descriptions: with a Fastify that lacks them, every hit goes through `reply.send`. onResponse
 * hooks (request metrics, logging) still run: Fastify listens for the response's end before the
 * onRequest hooks run.
 */
import { ServerResponse, validateHeaderName, validateHeaderValue } from 'node:http'
import type { FastifyReply, FastifyRequest } from 'fastify'

/** Fastify's private symbols this module reads, or null when this Fastify has none by that name. */
interface Internals {
  context: symbol
  headers: symbol
}

let internals: Internals | null | undefined

function find(request: FastifyRequest, reply: FastifyReply): Internals | null {
  const by = (o: object, description: string) =>
    Object.getOwnPropertySymbols(o).find((s) => s.description === description)
  const context = by(request, 'fastify.context')
  const headers = by(reply, 'fastify.reply.headers')
  return context === undefined || headers === undefined ? null : { context, headers }
}

/** Whether one route's hits may be written directly (decided on its first hit). */
export class DirectHits {
  private allowed: boolean | undefined = undefined

  /** True when this route's fresh hits may skip `reply.send` (see the module's comment). */
  permits(request: FastifyRequest, reply: FastifyReply): boolean {
    if (this.allowed === undefined) this.allowed = probe(request, reply)
    // checked per request: an HTTP/2 server with allowHTTP1 answers both on one route
    return this.allowed && reply.raw instanceof ServerResponse
  }
}

function probe(request: FastifyRequest, reply: FastifyReply): boolean {
  if (internals === undefined) internals = find(request, reply)
  if (internals === null) return false
  const context = (request as unknown as Record<symbol, { onSend?: unknown } | undefined>)[internals.context]
  const onSend = context?.onSend
  // the plugin adds one onSend hook to a cached route: one hook is that one
  return Array.isArray(onSend) && onSend.length === 1
}

/**
 * Writes a fresh 200 hit: `head` is the stored entry's header list (name, value, name, value...)
 * with the per-answer ones, `bytes` the body's length. False when a header another hook set is
 * one Node refuses: nothing was written (`head` is unchanged), and the caller answers through
 * `reply.send`, whose error handling then answers 500 as it would without the cache.
 */
export function writeDirect(
  reply: FastifyReply,
  head: string[],
  body: string | Buffer,
  bytes: number,
): boolean {
  const set = (reply as unknown as Record<symbol, Record<string, unknown>>)[(internals as Internals).headers]
  let list: unknown[] = head
  if (set !== undefined) {
    for (const name in set) {
      if (has(head, name)) continue
      const value = set[name]
      try {
        validateHeaderName(name)
        validateHeaderValue(name, value as string)
      } catch {
        return false
      }
      if (list === head) list = head.slice()
      list.push(name, value)
    }
  }
  list.push('content-length', String(bytes))
  const res = reply.raw
  res.writeHead(200, list as string[])
  reply.hijack()
  res.end(body)
  return true
}

function has(head: string[], name: string): boolean {
  for (let i = 0; i < head.length; i += 2) if (head[i] === name) return true
  return false
}
