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
import { createMonitor, type Monitor } from '../../../src/metrics/index.js'
import { adaptiveLimit } from '../../../src/resilience/index.js'

const apps: FastifyInstance[] = []
after(async () => {
  for (const a of apps) await a.close()
})

function newMonitor(): Monitor {
  return createMonitor({ enabled: false, env: {}, onWarning: () => {} })
}

async function series(monitor: Monitor, name: string): Promise<number> {
  const text = await monitor.registry.metrics()
  const line = text.split('\n').find((l) => l.startsWith(name))
  return line === undefined ? 0 : Number(line.split(' ').pop())
}

/** The duration histogram's count of GETs of `route` with status class `cls`. */
function timed(monitor: Monitor, route: string, cls = '2xx'): Promise<number> {
  return series(
    monitor,
    `hotpath_http_request_duration_seconds_count{route="${route}",method="GET",status_class="${cls}"}`,
  )
}

function get(port: number, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
        res.resume()
        res.on('end', () => resolve(res.statusCode ?? 0))
      })
      .on('error', reject)
  })
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

const until = async (cond: () => Promise<boolean>): Promise<void> => {
  for (let i = 0; i < 200 && !(await cond()); i++) await new Promise((r) => setTimeout(r, 10))
}

describe('request metrics at the end of a response', () => {
  it('the in-flight gauge comes back to 0 when clients go away mid-request (regression: one stayed per aborted request)', async () => {
    const monitor = newMonitor()
    const app = Fastify()
    apps.push(app)
    await app.register(hotpath, { monitor, compression: false })
    let entered = 0
    let release!: () => void
    const gate = new Promise<void>((r) => {
      release = r
    })
    app.get('/slow', async () => {
      entered++
      await gate
      return { ok: true }
    })
    app.get('/fast', async () => ({ ok: true }))
    await app.listen({ port: 0, host: '127.0.0.1' })
    const port = (app.server.address() as { port: number }).port
    await abandon(port, '/slow', 3, () => entered)
    // the handlers are still waiting: the gauge follows the clients, not the handlers
    await until(async () => (await series(monitor, 'hotpath_http_requests_in_flight')) === 0)
    assert.equal(await series(monitor, 'hotpath_http_requests_in_flight'), 0)
    release()
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
    const monitor = newMonitor()
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
    const monitor = newMonitor()
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
    let entered = 0
    let release!: () => void
    const gate = new Promise<void>((r) => {
      release = r
    })
    app.get('/slow', async () => {
      entered++
      await gate
      return { ok: true }
    })
    await app.listen({ port: 0, host: '127.0.0.1' })
    const port = (app.server.address() as { port: number }).port
    await abandon(port, '/slow', 2, () => entered)
    await until(async () => limit.inFlight === 0)
    assert.equal(limit.inFlight, 0, 'both slots released when the clients went away')
    release()
    assert.equal(await get(port, '/slow'), 200, 'a new request gets a slot')
    assert.equal(limit.inFlight, 0)
  })
})
