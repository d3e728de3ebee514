/**
 * An outside audit of direct hits (response-cache/direct.ts) and the end of a response
 * (response-end.ts), over real sockets: each test is named for what broke.
 */
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import http2 from 'node:http2'
import https from 'node:https'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import Fastify, { type FastifyInstance } from 'fastify'
import hotpath from '../../../src/fastify/index.js'
import { DirectHits } from '../../../src/fastify/response-cache/index.js'
import { adaptiveLimit } from '../../../src/resilience/index.js'
import { gatedRoute, httpGet, quietMonitor, series, until } from '../../helpers/http-test.js'

const apps: FastifyInstance[] = []
after(async () => {
  for (const a of apps) await a.close()
})

const portOf = (app: FastifyInstance): number => (app.server.address() as { port: number }).port

/** Opens a raw connection to `port` (errors ignored: the tests destroy it). */
async function connect(port: number): Promise<net.Socket> {
  const s = net.connect(port, '127.0.0.1')
  s.on('error', () => {})
  await new Promise((r) => s.once('connect', r))
  return s
}

interface Got {
  status: number
  /** Header lines as sent, names lowercased. */
  lines: [string, string][]
  body: Buffer
}

async function get(port: number, path: string, headers: Record<string, string> = {}): Promise<Got> {
  const r = await httpGet(port, path, headers)
  const lines: [string, string][] = []
  for (let i = 0; i < r.rawHeaders.length; i += 2)
    lines.push([(r.rawHeaders[i] as string).toLowerCase(), r.rawHeaders[i + 1] as string])
  return { status: r.status, lines, body: r.body }
}

const BODY = JSON.stringify({ items: Array.from({ length: 40 }, (_, i) => ({ id: i, name: `item ${i}` })) })

/**
 * An app with a cached `/c` set up by `setup`, plus, with `viaSend`, a no-op app onSend hook: every
 * hit then goes through `reply.send` (the path a direct hit must answer like).
 */
async function cached(
  viaSend: boolean,
  setup: (app: FastifyInstance) => void = () => {},
): Promise<{ app: FastifyInstance; port: number }> {
  const app = Fastify()
  apps.push(app)
  await app.register(hotpath, { responseCache: { routes: { '/c': '1m' } } })
  if (viaSend) app.addHook('onSend', async (_q, _r, p) => p)
  setup(app)
  await app.listen({ port: 0, host: '127.0.0.1' })
  return { app, port: portOf(app) }
}

describe('direct hits and the end of a response, audited', () => {
  it('a direct hit of a response with its own Vary sends one Vary line, as through reply.send (regression: the stored Vary and the one with accept-encoding were both sent)', async () => {
    const route = (app: FastifyInstance) =>
      app.get('/c', async (_req, reply) => reply.header('vary', 'x-lang').type('application/json').send(BODY))
    for (const viaSend of [false, true]) {
      const { port } = await cached(viaSend, route)
      const miss = await get(port, '/c', { 'x-lang': 'fr' })
      assert.equal(miss.lines.find(([n]) => n === 'x-cache')?.[1], 'MISS')
      for (const enc of ['br', 'identity']) {
        const h = { 'x-lang': 'fr', 'accept-encoding': enc }
        const hit = await get(port, '/c', h)
        assert.equal(hit.lines.find(([n]) => n === 'x-cache')?.[1], 'HIT')
        assert.deepEqual(
          hit.lines.filter(([n]) => n === 'vary'),
          [['vary', 'x-lang, accept-encoding']],
          `${viaSend ? 'through reply.send' : 'direct'}, accept-encoding: ${enc}`,
        )
      }
    }
  })

  it('bytesServed counts the bytes of a hit with a non-ASCII body, direct or through reply.send (regression: it counted UTF-16 code units)', async () => {
    const text = JSON.stringify({
      name: 'Zoë Ångström — 東京',
      items: Array.from({ length: 30 }, (_, i) => `é${i}`),
    })
    for (const viaSend of [false, true]) {
      const { app, port } = await cached(viaSend, (a) =>
        a.get('/c', async (_req, reply) => reply.type('application/json; charset=utf-8').send(text)),
      )
      await get(port, '/c', { 'accept-encoding': 'identity' })
      let sent = 0
      for (let i = 0; i < 2; i++) {
        const hit = await get(port, '/c', { 'accept-encoding': 'identity' })
        assert.equal(hit.body.toString(), text)
        sent += hit.body.length
      }
      const stats = app.hotpath.cacheStats() as Record<string, { hits: number; bytesServed: number }>
      assert.equal(stats['/c']?.hits, 2)
      assert.equal(stats['/c']?.bytesServed, sent, viaSend ? 'through reply.send' : 'direct')
    }
  })

  it('a client that goes away with pipelined requests queued on its connection gets its in-flight gauge and adaptive slots back (regression: Node emits no close on a queued response; both leaked for good)', async () => {
    const monitor = quietMonitor()
    const limit = adaptiveLimit({ initialLimit: 5, minLimit: 1, maxLimit: 5 })
    const app = Fastify()
    apps.push(app)
    await app.register(hotpath, { monitor, compression: false, shedding: { adaptiveLimit: limit } })
    const slow = gatedRoute(app, '/slow')
    let fast = 0
    app.get('/fast', async () => {
      fast++
      return { ok: true }
    })
    await app.listen({ port: 0, host: '127.0.0.1' })
    const s = await connect(portOf(app))
    const req = (path: string) => `GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`
    s.write(req('/slow') + req('/fast') + req('/fast'))
    await until(() => slow.entered() + fast === 3)
    assert.equal(slow.entered() + fast, 3)
    assert.equal(limit.inFlight, 3)
    s.destroy()
    await until(
      async () => limit.inFlight === 0 && (await series(monitor, 'hotpath_http_requests_in_flight')) === 0,
    )
    assert.equal(limit.inFlight, 0, 'every slot released when the client went away')
    assert.equal(await series(monitor, 'hotpath_http_requests_in_flight'), 0)
    slow.release()
    await new Promise((r) => setTimeout(r, 50))
    assert.equal(limit.inFlight, 0)
    assert.equal(await series(monitor, 'hotpath_http_requests_in_flight'), 0)
    assert.equal(
      await series(monitor, 'hotpath_http_request_duration_seconds_count{route="/fast"'),
      0,
      'a queued response that was never sent is not a duration',
    )
  })

  it('an HTTP/2 server that also answers HTTP/1 keeps its HTTP/2 hits off the direct path (regression: decided once per route, by its first hit)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hotpath-tls-'))
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-subj',
        '/CN=127.0.0.1',
        '-days',
        '1',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    )
    const key = readFileSync(join(dir, 'key.pem'))
    const cert = readFileSync(join(dir, 'cert.pem'))
    rmSync(dir, { recursive: true, force: true })
    const app = Fastify({ http2: true, https: { allowHTTP1: true, key, cert } })
    apps.push(app as unknown as FastifyInstance)
    await app.register(hotpath, {})
    const direct = new DirectHits()
    app.get('/probe', async (request, reply) => ({
      direct: direct.permits(request as never, reply as never),
    }))
    await app.listen({ port: 0, host: '127.0.0.1' })
    const port = (app.server.address() as { port: number }).port
    const h1 = await new Promise<string>((resolve, reject) => {
      https
        .get({ host: '127.0.0.1', port, path: '/probe', rejectUnauthorized: false, agent: false }, (res) => {
          let body = ''
          res.setEncoding('utf8')
          res.on('data', (d: string) => {
            body += d
          })
          res.on('end', () => resolve(body))
        })
        .on('error', reject)
    })
    assert.deepEqual(JSON.parse(h1), { direct: true }, 'HTTP/1 first')
    const client = http2.connect(`https://127.0.0.1:${port}`, { rejectUnauthorized: false })
    try {
      const h2 = await new Promise<string>((resolve, reject) => {
        const st = client.request({ ':path': '/probe' })
        let body = ''
        st.setEncoding('utf8')
        st.on('data', (d: string) => {
          body += d
        })
        st.on('end', () => resolve(body))
        st.on('error', reject)
      })
      assert.deepEqual(JSON.parse(h2), { direct: false }, 'then HTTP/2 on the same route')
    } finally {
      client.close()
    }
  })
})
