/**
 * Who may see the dashboard: a bearer token (header, or `?token=` on the page once, then a
 * cookie, because a browser's EventSource cannot send headers), and/or a `protect` function, or
 * nobody's business when the app says `public: true`. The cookie holds a digest of the token,
 * never the token.
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyReply, FastifyRequest } from 'fastify'

/** The cookie that carries the digest. */
export const COOKIE = 'hotpath_dashboard'

/** Checks requests against the token and the protect function. */
export class Guard {
  private readonly bearer: Buffer | undefined
  /** Digest of the token (the cookie's value). */
  readonly digest: string | undefined

  constructor(
    token: string | undefined,
    private readonly protect: ((request: FastifyRequest) => boolean | Promise<boolean>) | undefined,
  ) {
    this.bearer = token === undefined ? undefined : Buffer.from(`Bearer ${token}`)
    this.digest =
      token === undefined
        ? undefined
        : createHash('sha256').update(`hotpath-dashboard:${token}`).digest('hex')
    this.token = token
  }

  private readonly token: string | undefined

  /**
   * Whether the request carries the token: the header or the cookie, and `?token=` where `query`
   * (the page alone: it trades the token for the cookie; elsewhere a token in the URL would
   * only end up in access logs and browser history).
   */
  hasToken(request: FastifyRequest, query = false): boolean {
    if (this.bearer === undefined) return true
    if (same(request.headers.authorization, this.bearer)) return true
    const q = query ? (request.query as { token?: unknown } | undefined)?.token : undefined
    if (typeof q === 'string' && same(q, Buffer.from(this.token as string))) return true
    const c = cookie(request.headers.cookie, COOKIE)
    return c !== undefined && same(c, Buffer.from(this.digest as string))
  }

  /** True when allowed; otherwise answers 401 and returns false. `query`: see hasToken. */
  async check(request: FastifyRequest, reply: FastifyReply, query = false): Promise<boolean> {
    // every dashboard answer, refusals included: a browser never guesses another type
    reply.header('x-content-type-options', 'nosniff')
    if (this.hasToken(request, query) && (this.protect === undefined || (await this.protect(request))))
      return true
    reply.code(401).header('cache-control', 'no-store').send({
      error: 'Unauthorized',
      message: 'open the dashboard with ?token=<token> or send Authorization: Bearer <token>',
    })
    return false
  }

  /** Only the bearer header (the ingest endpoint: programs, not browsers). */
  checkBearer(request: FastifyRequest, expected: Buffer): boolean {
    return same(request.headers.authorization, expected)
  }
}

/** Constant-time comparison. */
function same(got: string | undefined, expected: Buffer): boolean {
  const b = Buffer.from(String(got ?? ''))
  return b.length === expected.length && timingSafeEqual(b, expected)
}

/** One cookie's value from a Cookie header. */
export function cookie(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined
  for (const part of header.split(';')) {
    const eq = part.indexOf('=')
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim()
  }
  return undefined
}

/** Checks a token option: a string of at least 16 characters. */
export function checkToken(token: unknown, option: string): string | undefined {
  if (token === undefined) return undefined
  if (typeof token !== 'string' || token.length < 16) {
    throw new TypeError(`${option} must be a string of at least 16 characters`)
  }
  return token
}
