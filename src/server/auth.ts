/**
 * The demo identities of the reference server: bearer token -> user. A Map, never a plain
 * object: `USERS['__proto__']` on an object literal is Object.prototype, so `Bearer __proto__`
 * (or `constructor`, `toString`) used to authenticate (issue 10 item 15).
 */
import { timingSafeEqual } from 'node:crypto'
import type { FastifyReply, FastifyRequest } from 'fastify'

/** A demo user. */
export interface User {
  id: string
  name: string
}

const USERS: ReadonlyMap<string, User> = new Map([
  ['token-alice', { id: 'u1', name: 'Alice' }],
  ['token-bob', { id: 'u2', name: 'Bob' }],
])

/** The user a request's `Authorization: Bearer <token>` names, or undefined. */
export function identify(request: FastifyRequest): User | undefined {
  const header = request.headers.authorization
  if (typeof header !== 'string') return undefined
  const match = /^Bearer +(\S+) *$/i.exec(header)
  return match === null ? undefined : USERS.get(match[1] as string)
}

/** An `onRequest` hook that answers 401 to a request without a known identity. */
export async function requireIdentity(
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<FastifyReply | undefined> {
  if (identify(request) !== undefined) return undefined
  return unauthorized(reply)
}

/** Answers 401 with the challenge and a hint. */
export function unauthorized(reply: FastifyReply): FastifyReply {
  return reply
    .code(401)
    .header('www-authenticate', 'Bearer')
    .send({ error: 'Unauthorized', message: 'use Authorization: Bearer token-alice' })
}

/** True when `authorization` is `Bearer <token>` (compared in constant time). */
export function bearerMatches(authorization: string | undefined, token: string): boolean {
  if (authorization === undefined) return false
  const a = Buffer.from(authorization)
  const b = Buffer.from(`Bearer ${token}`)
  return a.length === b.length && timingSafeEqual(a, b)
}
