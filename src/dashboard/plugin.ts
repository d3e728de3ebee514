/**
 * The Fastify plugin that mounts the dashboard: the page and its files, the SSE stream, the state
 * as JSON, the snapshot export and the ingest endpoint, all under one prefix. Nothing is open
 * unless the app says how to protect it (a token, a protect function) or says `public: true`.
 * Works beside the hotpath plugin: its routes opt out of the response cache, rate limits,
 * shedding and request metrics (a stream lasting an hour is not a slow request).
 */
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { assertKnownKeys } from '../options.js'
import { type Asset, livePage, loadPageFiles, snapshotPage } from './assets.js'
import { COOKIE, checkToken, Guard } from './auth.js'
import { Dashboard } from './dashboard.js'

/** Options of `dashboardPlugin`. */
export interface DashboardPluginOptions {
  /** The dashboard to show (createDashboard()). */
  dashboard: Dashboard
  /** Where the page lives. @default '/dashboard' */
  prefix?: string | undefined
  /** Bearer token (at least 16 characters) for the page, the stream and the exports. @default none */
  token?: string | undefined
  /** Another guard (run after the token check): return false to answer 401. @default none */
  protect?: ((request: FastifyRequest) => boolean | Promise<boolean>) | undefined
  /** Serve the dashboard with no token and no protect function. Must be said explicitly. @default false */
  public?: boolean | undefined
  /** Bearer token for POST <prefix>/ingest. @default `token`; without either, ingest is off */
  ingestToken?: string | undefined
  /** Close the dashboard when the app closes. @default true */
  closeWithApp?: boolean | undefined
}

const KNOWN: readonly (keyof DashboardPluginOptions)[] = [
  'dashboard',
  'prefix',
  'token',
  'protect',
  'public',
  'ingestToken',
  'closeWithApp',
]

// keep the hotpath plugin's features off these routes (its config key, if it is registered)
const config = { hotpath: { cache: false as const, rateLimit: false as const, shed: false, metrics: false } }

const MAX_INGEST_BYTES = 64 * 1024

function send(request: FastifyRequest, reply: FastifyReply, a: Asset, cacheControl: string): FastifyReply {
  reply.header('content-type', a.type).header('etag', a.etag).header('cache-control', cacheControl)
  reply.header('vary', 'accept-encoding')
  if (request.headers['if-none-match'] === a.etag) return reply.code(304).send()
  if (/\bgzip\b/.test(String(request.headers['accept-encoding'] ?? ''))) {
    return reply.header('content-encoding', 'gzip').send(a.gzip)
  }
  return reply.send(a.body)
}

const plugin: FastifyPluginAsync<DashboardPluginOptions> = async (app: FastifyInstance, options) => {
  if (options === null || typeof options !== 'object')
    throw new TypeError('dashboardPlugin options must be an object')
  assertKnownKeys(options, KNOWN, 'dashboardPlugin options')
  const d = options.dashboard
  if (!(d instanceof Dashboard))
    throw new TypeError('dashboardPlugin needs dashboard: createDashboard({ monitor })')
  const prefix = options.prefix ?? '/dashboard'
  // plain path segments only: the prefix goes into the page's HTML as it is, and a ':name' or '*'
  // would be a route parameter or a wildcard to Fastify
  if (typeof prefix !== 'string' || (prefix !== '/' && !/^(\/[\w.~-]+)+$/.test(prefix))) {
    throw new TypeError(
      `dashboardPlugin prefix must be a path like '/dashboard' (letters, digits, . _ ~ - between slashes, no trailing slash); received ${JSON.stringify(prefix)}`,
    )
  }
  const base = prefix === '/' ? '' : prefix
  const token = checkToken(options.token, 'dashboardPlugin token')
  const ingestToken = checkToken(options.ingestToken, 'dashboardPlugin ingestToken') ?? token
  if (options.protect !== undefined && typeof options.protect !== 'function') {
    throw new TypeError('dashboardPlugin protect must be a function of the request')
  }
  if (options.public !== undefined && typeof options.public !== 'boolean') {
    throw new TypeError(`dashboardPlugin public must be a boolean; received ${String(options.public)}`)
  }
  if (options.closeWithApp !== undefined && typeof options.closeWithApp !== 'boolean') {
    throw new TypeError(
      `dashboardPlugin closeWithApp must be a boolean; received ${JSON.stringify(options.closeWithApp)}`,
    )
  }
  if (token === undefined && options.protect === undefined && options.public !== true) {
    throw new TypeError(
      'dashboardPlugin: pass token (at least 16 characters) or protect, or public: true to serve the dashboard to anyone',
    )
  }
  const guard = new Guard(token, options.protect)
  const files = loadPageFiles()
  const page = livePage(files, base)

  app.get(base === '' ? '/' : base, { config }, async (request, reply) => {
    if (!(await guard.check(request, reply, true))) return reply
    if (guard.digest !== undefined) {
      reply.header(
        'set-cookie',
        `${COOKIE}=${guard.digest}; Path=${base || '/'}; HttpOnly; SameSite=Strict${request.protocol === 'https' ? '; Secure' : ''}`,
      )
    }
    reply.header('x-frame-options', 'DENY').header('referrer-policy', 'no-referrer')
    reply.header(
      'content-security-policy',
      "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'",
    )
    return send(request, reply, page, 'no-store')
  })

  app.get(`${base}/assets/:name`, { config }, async (request, reply) => {
    if (!(await guard.check(request, reply))) return reply
    const a = files.files.get((request.params as { name: string }).name)
    if (a === undefined) return reply.code(404).send({ error: 'Not Found' })
    return send(request, reply, a, 'private, max-age=3600')
  })

  app.get(`${base}/stream`, { config }, async (request, reply) => {
    if (!(await guard.check(request, reply))) return reply
    // a HEAD has no body: a stream opened for it sent nothing (not even its headers) and held a
    // slot until the client gave up
    if (request.method === 'HEAD') {
      return reply
        .header('content-type', 'text/event-stream; charset=utf-8')
        .header('cache-control', 'no-cache')
        .send()
    }
    const last = Number(request.headers['last-event-id'])
    reply.hijack()
    if (!d.stream(reply.raw, Number.isFinite(last) && last > 0 ? last : undefined)) {
      reply.raw.writeHead(503, { 'content-type': 'application/json', 'retry-after': '10' })
      reply.raw.end(
        JSON.stringify({ error: 'Service Unavailable', message: 'too many dashboard pages streaming' }),
      )
    }
    return reply
  })

  app.get(`${base}/state`, { config }, async (request, reply) => {
    if (!(await guard.check(request, reply))) return reply
    reply.header('cache-control', 'no-store')
    return d.state()
  })

  app.get(`${base}/snapshot`, { config }, async (request, reply) => {
    if (!(await guard.check(request, reply))) return reply
    const name = `hotpath-dashboard-${new Date().toISOString().replace(/[:.]/g, '-')}.html`
    return reply
      .header('content-type', 'text/html; charset=utf-8')
      .header('cache-control', 'no-store')
      .header('content-disposition', `attachment; filename="${name}"`)
      .send(snapshotPage(files, { ...d.state(), snapshotAt: Date.now() }))
  })

  if (ingestToken !== undefined) {
    const expected = Buffer.from(`Bearer ${ingestToken}`)
    app.post(`${base}/ingest`, { config, bodyLimit: MAX_INGEST_BYTES }, async (request, reply) => {
      if (!guard.checkBearer(request, expected)) return reply.code(401).send({ error: 'Unauthorized' })
      const body = request.body as { source?: unknown; figures?: unknown } | undefined
      const points = Array.isArray(body) ? body : [body]
      try {
        for (const p of points) {
          if (p === null || typeof p !== 'object')
            throw new TypeError('each point must be { source, figures }')
          d.ingest(p.source as string, p.figures as Record<string, number>)
        }
      } catch (err) {
        return reply.code(400).send({ error: 'Bad Request', message: (err as Error).message })
      }
      return reply.code(202).send({ accepted: points.length })
    })
  }

  // open streams would keep the server from closing: end them before it closes
  app.addHook('preClose', async () => d.endStreams())
  if (options.closeWithApp !== false) app.addHook('onClose', async () => d.close())
}

/** The Fastify plugin that serves a dashboard (`app.register(dashboardPlugin, { dashboard, token })`). */
export const dashboardPlugin = fp(plugin, { fastify: '5.x', name: 'hotpath-dashboard' })
