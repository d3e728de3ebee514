/**
 * Request metrics and the adaptive limit's slots at the end of a response, over real sockets:
 * finished responses, clients that go away mid-request, direct cache hits, HTTP/2.
 */
import assert from 'node:assert/strict'
import http from 'node:http'
import http2 from 'node:http2'
import { after, describe, it } from 'node:test'
import Fastify, { type FastifyInstance } from 'fastify'
import hotpath from '../../../src/fastify/index.js'
import type { Monitor } from '../../../src/metrics/index.js'
import { adaptiveLimit } from '../../../src/resilience/index.js'
import { gatedRoute, httpGet, quietMonitor, series, until } from '../../helpers/http-test.js'

const apps: FastifyInstance[] = []
after(async () => {
  for (const a of apps) await a.close()
})

/** The duration histogram's count of GETs of `route` with status class `cls`. */
function timed(monitor: Monitor, route: string, cls = '2xx'): Promise<number> {
  return series(
    monitor,
    `hotpath_http_request_duration_seconds_count{route="${route}",method="GET",status_class="${cls}"}`,
  )
}

async function get(port: number, path: string): Promise<number> {
  return (await httpGet(port, path)).status
}

/** Starts `n` requests and destroys their sockets once the handler has them all. */
async function abandon(port: number, path: string, n: number, entered: () => number): Promise<void> {
  const reqs = Array.from({ length: n }, () => {
    const r = http.get({ host: '127.0.0.1', port, path, agent: false })
    r.on('error', () => {})
    return r
  })
  while (entered() < n) await new Promise((r) => setTimeout(r, 5))
  for (const r of reqs) r.destroy()
}

describe('request metrics at the end of a response', () => {
  it('the in-flight gauge comes back to 0 when clients go away mid-request (regression: one stayed per aborted request)', async () => {
    const monitor = quietMonitor()
    const app = Fastify()
    apps.push(app)
    await app.register(hotpath, { monitor, compression: false })
    const slow = gatedRoute(app, '/slow')
    app.get('/fast', async () => ({ ok: true }))
    await app.listen({ port: 0, host: '127.0.0.1' })
    const port = (app.server.address() as { port: number }).port
    await abandon(port, '/slow', 3, slow.entered)
    // the handlers are still waiting: the gauge follows the clients, not the handlers
    await until(async () => (await series(monitor, 'hotpath_http_requests_in_flight')) === 0)
    assert.equal(await series(monitor, 'hotpath_http_requests_in_flight'), 0)
    slow.release()
    await new Promise((r) => setTimeout(r, 50))
    assert.equal(await get(port, '/fast'), 200)
    assert.equal(await timed(monitor, '/fast'), 1)
    assert.equal(
      await series(monitor, 'hotpath_http_request_duration_seconds_count{route="/slow"'),
      0,
      'a response that never finished is not a duration',
    )
    assert.equal(await series(monitor, 'hotpath_http_requests_in_flight'), 0)
  })

  it('handler answers, direct cache hits and 5xx answers are measured once each, by status class', async () => {
    const monitor = quietMonitor()
    const app = Fastify()
    apps.push(app)
    await app.register(hotpath, { monitor, responseCache: { routes: { '/c': '1m' } } })
    app.get('/c', async () => ({ cached: true }))
    app.get('/boom', async (_req, reply) => reply.code(502).send({ error: 'upstream' }))
    await app.listen({ port: 0, host: '127.0.0.1' })
    const port = (app.server.address() as { port: number }).port
    for (let i = 0; i < 3; i++) assert.equal(await get(port, '/c'), 200)
    assert.equal(await get(port, '/boom'), 502)
    assert.equal(await timed(monitor, '/c'), 3)
    assert.equal(await timed(monitor, '/boom', '5xx'), 1)
    assert.equal(await series(monitor, 'hotpath_http_requests_in_flight'), 0)
  })

  it('over HTTP/2 too', async () => {
    const monitor = quietMonitor()
    const app = Fastify({ http2: true })
    apps.push(app as unknown as FastifyInstance)
    await app.register(hotpath, { monitor })
    app.get('/h2', async () => ({ ok: true }))
    await app.listen({ port: 0, host: '127.0.0.1' })
    const client = http2.connect(`http://127.0.0.1:${(app.server.address() as { port: number }).port}`)
    try {
      for (let i = 0; i < 2; i++) {
        await new Promise<void>((resolve, reject) => {
          const s = client.request({ ':path': '/h2' })
          s.resume()
          s.on('end', resolve)
          s.on('error', reject)
        })
      }
    } finally {
      client.close()
    }
    await until(async () => (await timed(monitor, '/h2')) === 2)
    assert.equal(await timed(monitor, '/h2'), 2)
    assert.equal(await series(monitor, 'hotpath_http_requests_in_flight'), 0)
  })

  it("the adaptive limit's slot is released as a drop when the client goes away", async () => {
    const limit = adaptiveLimit({ initialLimit: 2, minLimit: 1, maxLimit: 2 })
    const app = Fastify()
    apps.push(app)
    await app.register(hotpath, { shedding: { adaptiveLimit: limit } })
    const slow = gatedRoute(app, '/slow')
    await app.listen({ port: 0, host: '127.0.0.1' })
    const port = (app.server.address() as { port: number }).port
    await abandon(port, '/slow', 2, slow.entered)
    await until(async () => limit.inFlight === 0)
    assert.equal(limit.inFlight, 0, 'both slots released when the clients went away')
    slow.release()
    assert.equal(await get(port, '/slow'), 200, 'a new request gets a slot')
    assert.equal(limit.inFlight, 0)
  })
})
