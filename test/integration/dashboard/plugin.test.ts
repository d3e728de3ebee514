import assert from 'node:assert/strict'
import { type AddressInfo, connect } from 'node:net'
import { after, describe, it } from 'node:test'
import { gunzipSync } from 'node:zlib'
import Fastify, { type FastifyInstance } from 'fastify'
import {
  createDashboard,
  type DashboardState,
  dashboardPlugin,
  type Tick,
} from '../../../src/dashboard/index.js'
import { createMonitor } from '../../../src/metrics/index.js'
import { buildApp, openStream, TOKEN } from './helpers.js'

const apps: FastifyInstance[] = []
after(async () => {
  for (const a of apps) await a.close()
})

async function app(o: Parameters<typeof buildApp>[0] = {}) {
  const r = await buildApp(o)
  apps.push(r.app)
  return r
}

const auth = { authorization: `Bearer ${TOKEN}` }

describe('protection', () => {
  it('refuses to mount with neither token nor protect unless public: true is said', async () => {
    const monitor = createMonitor({ enabled: false, env: {} })
    const dashboard = createDashboard({ monitor })
    const a = Fastify()
    await assert.rejects(
      async () => a.register(dashboardPlugin, { dashboard }).ready(),
      /pass token .* or public: true/,
    )
    await a.close()
    await dashboard.close()
    const b = Fastify()
    await assert.rejects(
      async () => b.register(dashboardPlugin, { dashboard, token: 'short' }).ready(),
      /at least 16 characters/,
    )
    await b.close()
    monitor.close()
  })

  it('needs the token on every route; ?token= sets a cookie that EventSource requests carry', async () => {
    const { app: a } = await app()
    for (const url of [
      '/dashboard',
      '/dashboard/assets/app.js',
      '/dashboard/state',
      '/dashboard/snapshot',
      '/dashboard/stream',
    ]) {
      const r = await a.inject({ url })
      assert.equal(r.statusCode, 401, url)
      assert.match(r.body, /token/)
    }
    assert.equal((await a.inject({ url: '/dashboard?token=wrong-token-0123456789' })).statusCode, 401)
    const page = await a.inject({ url: `/dashboard?token=${TOKEN}` })
    assert.equal(page.statusCode, 200)
    const cookie = String(page.headers['set-cookie'])
    assert.match(cookie, /^hotpath_dashboard=[0-9a-f]{64}; Path=\/dashboard; HttpOnly; SameSite=Strict/)
    assert.ok(!cookie.includes(TOKEN), 'the cookie holds a digest, never the token')
    const jar = cookie.split(';')[0] as string
    assert.equal((await a.inject({ url: '/dashboard/state', headers: { cookie: jar } })).statusCode, 200)
    assert.equal((await a.inject({ url: '/dashboard/state', headers: auth })).statusCode, 200)
    assert.equal(
      (await a.inject({ url: '/dashboard/state', headers: { cookie: 'hotpath_dashboard=00' } })).statusCode,
      401,
    )
  })

  it('regression: ?token= was accepted on every route (tokens in URLs end up in access logs); only the page trades it for the cookie', async () => {
    const { app: a } = await app()
    for (const url of [
      '/dashboard/assets/app.js',
      '/dashboard/state',
      '/dashboard/snapshot',
      '/dashboard/stream',
    ]) {
      const r = await a.inject({ url: `${url}?token=${TOKEN}` })
      assert.equal(r.statusCode, 401, url)
      assert.equal(r.headers['x-content-type-options'], 'nosniff', url)
    }
    assert.equal((await a.inject({ url: `/dashboard?token=${TOKEN}` })).statusCode, 200)
    assert.equal((await a.inject({ url: '/dashboard/state', headers: auth })).statusCode, 200)
  })

  it('runs protect after the token, and public: true opens it', async () => {
    const { app: a } = await app({ plugin: { protect: (r) => r.headers['x-role'] === 'ops' } })
    assert.equal((await a.inject({ url: '/dashboard/state', headers: auth })).statusCode, 401)
    assert.equal(
      (await a.inject({ url: '/dashboard/state', headers: { ...auth, 'x-role': 'ops' } })).statusCode,
      200,
    )
    const { app: b } = await app({ plugin: { token: undefined, public: true, prefix: '/ops/dash' } })
    assert.equal((await b.inject({ url: '/ops/dash/state' })).statusCode, 200)
    assert.equal(
      (await b.inject({ url: '/ops/dash/ingest', method: 'POST', payload: {} })).statusCode,
      404,
      'no token: no ingest',
    )
  })
})

describe('page', () => {
  it('serves the page, the app and uPlot from the package, gzipped, with no outside URL', async () => {
    const { app: a } = await app()
    const page = await a.inject({ url: '/dashboard', headers: { ...auth, 'accept-encoding': 'gzip' } })
    assert.equal(page.headers['content-encoding'], 'gzip')
    const html = gunzipSync(page.rawPayload).toString()
    assert.match(html, /<script src="\/dashboard\/assets\/uplot.js"><\/script>/)
    assert.doesNotMatch(html, /https?:\/\//, 'nothing from a CDN')
    assert.match(String(page.headers['content-security-policy']), /default-src 'self'/)
    const uplot = await a.inject({ url: '/dashboard/assets/uplot.js', headers: auth })
    assert.match(uplot.body, /uPlot/)
    assert.ok(uplot.body.length > 40_000)
    const etag = String(uplot.headers.etag)
    const again = await a.inject({
      url: '/dashboard/assets/uplot.js',
      headers: { ...auth, 'if-none-match': etag },
    })
    assert.equal(again.statusCode, 304)
    assert.equal((await a.inject({ url: '/dashboard/assets/nope.js', headers: auth })).statusCode, 404)
  })
})

describe('figures', () => {
  it('shows requests made through the hotpath plugin in the next tick, and keeps its own routes out', async () => {
    const { app: a, dashboard } = await app()
    for (let i = 0; i < 7; i++) await a.inject({ url: '/hello' })
    await a.inject({ url: '/boom' })
    await a.inject({ url: '/dashboard/state', headers: auth })
    const tick = (await dashboard.tick()) as Tick
    const f = tick.frames[0]
    assert.ok(f)
    assert.equal(f.http.routes['GET /hello']?.n, 7)
    assert.equal(f.http.routes['GET /boom']?.status['5xx'], 1)
    assert.equal(f.http.n, 8, 'the dashboard routes are not in the request metrics')
    const state = (await a.inject({ url: '/dashboard/state', headers: auth })).json() as DashboardState
    assert.ok(state.ticks.some((t) => t.seq === tick.seq))
    assert.deepEqual(state.hello.bounds.slice(0, 2), [0.001, 0.0025])
  })

  it('ingest: bearer only, validates, accepts one point or a list, and the figures reach the next tick', async () => {
    const { app: a, dashboard } = await app()
    const post = (payload: unknown, headers: Record<string, string> = auth) =>
      a.inject({ url: '/dashboard/ingest', method: 'POST', payload: payload as object, headers })
    assert.equal((await post({ source: 'lt', figures: { rps: 1 } }, {})).statusCode, 401)
    const bad = await post({ source: 'lt', figures: { rps: 'fast' } })
    assert.equal(bad.statusCode, 400)
    assert.match(bad.json().message, /figure "rps" must be a finite number/)
    assert.equal((await post({ source: 'lt', figures: { rps: 500, p99: 9 } })).statusCode, 202)
    assert.deepEqual((await post([{ source: 'lt2', figures: { vus: 10 } }])).json(), { accepted: 1 })
    const f = ((await dashboard.tick()) as Tick).frames[0]
    assert.deepEqual(f?.ext, { lt: { rps: 500, p99: 9 }, lt2: { vus: 10 } })
  })

  it('exports one self-contained HTML file with the state embedded', async () => {
    const { app: a, dashboard } = await app()
    await a.inject({ url: '/hello' })
    await dashboard.tick()
    const r = await a.inject({ url: '/dashboard/snapshot', headers: auth })
    assert.equal(r.statusCode, 200)
    assert.match(
      String(r.headers['content-disposition']),
      /attachment; filename="hotpath-dashboard-.*\.html"/,
    )
    assert.doesNotMatch(r.body, /<script src=|<link rel="stylesheet"/, 'nothing to fetch')
    assert.match(r.body, /window\.HOTPATH_SNAPSHOT=\{"hello":/)
    assert.match(r.body, /GET \/hello/)
    assert.doesNotMatch(r.body.slice(r.body.indexOf('HOTPATH_SNAPSHOT')), /<\/script><\/script>/)
  })
})

describe('stream over a real socket', () => {
  it('sends hello and history, then a tick per interval with the new figures; replays after Last-Event-ID', async () => {
    const { app: a } = await app()
    await a.listen({ port: 0, host: '127.0.0.1' })
    const base = `http://127.0.0.1:${(a.server.address() as AddressInfo).port}`
    const s = await openStream(`${base}/dashboard/stream`, auth)
    assert.equal(s.status, 200)
    assert.equal(s.headers['content-type'], 'text/event-stream; charset=utf-8')
    assert.equal(s.headers['x-accel-buffering'], 'no')
    const hello = JSON.parse((await s.next('hello')).data)
    assert.equal(hello.intervalMs, 100)
    await s.next('history')
    await fetch(`${base}/hello`)
    const seen = await s.next(
      'tick',
      (e) => (JSON.parse(e.data) as Tick).frames[0]?.http.routes['GET /hello'] !== undefined,
    )
    assert.ok(seen.id !== undefined)
    const later = await s.next('tick')
    s.close()
    const r = await openStream(`${base}/dashboard/stream`, { ...auth, 'last-event-id': String(seen.id) })
    await r.next('hello')
    const replay = JSON.parse((await r.next('history')).data) as { ticks: Tick[] }
    assert.equal(replay.ticks[0]?.seq, Number(seen.id) + 1, 'the replay starts right after the last id seen')
    assert.ok(replay.ticks.some((t) => String(t.seq) === later.id))
    r.close()
  })

  it('regression: an HTTP/1.0 client was told connection: keep-alive for a body that only the connection closing can end; it is told close, an HTTP/1.1 client keep-alive with chunks', async () => {
    const { app: a } = await app()
    await a.listen({ port: 0, host: '127.0.0.1' })
    const port = (a.server.address() as AddressInfo).port
    const head = (version: string) =>
      new Promise<string>((resolve, reject) => {
        const s = connect(port, '127.0.0.1', () =>
          s.write(
            `GET /dashboard/stream HTTP/${version}\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\n\r\n`,
          ),
        )
        let buf = ''
        s.on('data', (d) => {
          buf += d
          const end = buf.indexOf('\r\n\r\n')
          if (end >= 0) {
            s.destroy()
            resolve(buf.slice(0, end).toLowerCase())
          }
        })
        s.on('error', reject)
      })
    const old = await head('1.0')
    assert.match(old, /^http\/1\.1 200/)
    assert.match(old, /\r\nconnection: close(\r\n|$)/)
    assert.doesNotMatch(old, /keep-alive|transfer-encoding/)
    const now = await head('1.1')
    assert.match(now, /\r\nconnection: keep-alive(\r\n|$)/)
    assert.match(now, /\r\ntransfer-encoding: chunked(\r\n|$)/)
  })

  it('a page that connects after a table was sampled gets its rows in the history (regression)', async () => {
    const { app: a, dashboard } = await app({
      dashboard: {
        interval: '1h',
        window: '1h',
        tables: [{ id: 'slow', title: 'Slow', columns: ['sql'], rows: () => [{ sql: 'select 1' }] }],
      },
    })
    await dashboard.tick()
    await a.listen({ port: 0, host: '127.0.0.1' })
    const s = await openStream(
      `http://127.0.0.1:${(a.server.address() as AddressInfo).port}/dashboard/stream`,
      auth,
    )
    assert.deepEqual(JSON.parse((await s.next('hello')).data).tables, [
      { id: 'slow', title: 'Slow', columns: ['sql'] },
    ])
    const history = JSON.parse((await s.next('history')).data) as DashboardState
    assert.deepEqual(history.tables[0]?.rows, [{ sql: 'select 1' }])
    s.close()
  })

  it('answers 503 past maxClients, and ends the streams when the app closes', async () => {
    const { app: a, dashboard } = await app({ dashboard: { maxClients: 1 } })
    await a.listen({ port: 0, host: '127.0.0.1' })
    const base = `http://127.0.0.1:${(a.server.address() as AddressInfo).port}`
    const one = await openStream(`${base}/dashboard/stream`, auth)
    await one.next('hello')
    const two = await openStream(`${base}/dashboard/stream`, auth)
    assert.equal(two.status, 503)
    assert.equal(dashboard.clients, 1)
    await a.close()
    await one.ended
    assert.equal(dashboard.clients, 0)
  })
})
