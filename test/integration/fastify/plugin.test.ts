import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { gunzipSync } from 'node:zlib'
import Fastify, { type FastifyInstance } from 'fastify'
import hotpath, { type HotpathFastifyOptions } from '../../../src/fastify/index.js'
import { createMonitor } from '../../../src/metrics/index.js'
import { adaptiveLimit } from '../../../src/resilience/index.js'

const apps: FastifyInstance[] = []
after(async () => {
  for (const a of apps) await a.close()
})

async function build(
  options: HotpathFastifyOptions,
  routes: (app: FastifyInstance) => void,
): Promise<FastifyInstance> {
  const app = Fastify()
  apps.push(app)
  await app.register(hotpath, options)
  routes(app)
  await app.ready()
  return app
}

const TEXT = 'hello hotpath '.repeat(200)

describe('compression', () => {
  it('compresses above the threshold by Accept-Encoding, adds Vary, leaves small bodies, ranges and encoded bodies alone', async () => {
    const app = await build({ compression: { threshold: 1024 } }, (a) => {
      a.get('/big', async (_r, reply) => reply.type('text/plain').send(TEXT))
      a.get('/small', async (_r, reply) => reply.type('text/plain').send('tiny'))
      a.get('/range', async (_r, reply) =>
        reply.code(206).header('content-range', 'bytes 0-9/100').type('text/plain').send(TEXT),
      )
      a.get('/png', async (_r, reply) => reply.type('image/png').send(Buffer.alloc(5000)))
    })
    const gz = await app.inject({ url: '/big', headers: { 'accept-encoding': 'gzip' } })
    assert.equal(gz.headers['content-encoding'], 'gzip')
    assert.equal(gunzipSync(gz.rawPayload).toString(), TEXT)
    assert.match(String(gz.headers.vary), /accept-encoding/)
    const br = await app.inject({ url: '/big', headers: { 'accept-encoding': 'gzip, br' } })
    assert.equal(br.headers['content-encoding'], 'br')
    assert.equal(
      (await app.inject({ url: '/small', headers: { 'accept-encoding': 'br' } })).headers['content-encoding'],
      undefined,
    )
    assert.equal(
      (await app.inject({ url: '/range', headers: { 'accept-encoding': 'br' } })).headers['content-encoding'],
      undefined,
    )
    assert.equal(
      (await app.inject({ url: '/png', headers: { 'accept-encoding': 'br' } })).headers['content-encoding'],
      undefined,
    )
    assert.equal((await app.inject({ url: '/big' })).headers['content-encoding'], undefined)
  })
})

describe('rate limits', () => {
  it('answers 429 with RateLimit headers and Retry-After; routes can opt out of the global limit', async () => {
    const app = await build({ rateLimit: { limit: 2, window: '1m', name: 'global' } }, (a) => {
      a.get('/limited', async () => ({ ok: true }))
      a.get(
        '/own',
        {
          config: {
            hotpath: { rateLimit: { limit: 1, window: '1m', key: (r) => String(r.headers['x-user']) } },
          },
        },
        async () => ({ ok: true }),
      )
      a.get('/free', { config: { hotpath: { rateLimit: false } } }, async () => ({ ok: true }))
    })
    const r1 = await app.inject('/limited')
    assert.equal(r1.headers['ratelimit-policy'], '"global";q=2;w=60')
    assert.match(String(r1.headers.ratelimit), /^"global";r=1;t=\d+$/)
    await app.inject('/limited')
    const r3 = await app.inject('/limited')
    assert.equal(r3.statusCode, 429)
    assert.ok(Number(r3.headers['retry-after']) >= 1)
    assert.equal((await app.inject({ url: '/own', headers: { 'x-user': 'a' } })).statusCode, 200)
    assert.equal((await app.inject({ url: '/own', headers: { 'x-user': 'a' } })).statusCode, 429)
    assert.equal(
      (await app.inject({ url: '/own', headers: { 'x-user': 'b' } })).statusCode,
      200,
      'keys after authentication',
    )
    for (let i = 0; i < 5; i++) assert.equal((await app.inject('/free')).statusCode, 200)
  })
})

describe('load shedding', () => {
  it('sheds with 503 and a Retry-After while the event loop is stalled, but never the health probes', async () => {
    const app = await build({ shedding: { maxEventLoopDelay: '50ms' }, endpoints: {} }, (a) => {
      a.get('/work', async () => ({ ok: true }))
    })
    assert.equal((await app.inject('/work')).statusCode, 200)
    const until = Date.now() + 400
    while (Date.now() < until) {
      // a synchronous stall, as a CPU-bound handler would cause
    }
    await new Promise((r) => setTimeout(r, 150))
    const shed = await app.inject('/work')
    assert.equal(shed.statusCode, 503)
    assert.ok(Number(shed.headers['retry-after']) >= 2, 'Retry-After grows with the overload')
    assert.equal((await app.inject('/health/live')).statusCode, 200)
    await new Promise((r) => setTimeout(r, 700))
    assert.equal((await app.inject('/work')).statusCode, 200, 'recovers once the loop is responsive')
  })
})

describe('adaptive-limit shedding', () => {
  it('sheds requests beyond the adaptive concurrency limit with 503 and Retry-After; probes are exempt', async () => {
    const limit = adaptiveLimit({ initialLimit: 1, minLimit: 1, maxLimit: 1 })
    let release!: () => void
    const app = await build({ shedding: { adaptiveLimit: limit }, endpoints: {} }, (a) => {
      a.get('/slow', async () => {
        await new Promise<void>((r) => {
          release = r
        })
        return { ok: true }
      })
    })
    const first = app.inject('/slow')
    await new Promise((r) => setTimeout(r, 20))
    const second = await app.inject('/slow')
    assert.equal(second.statusCode, 503)
    assert.ok(Number(second.headers['retry-after']) >= 1)
    assert.equal((await app.inject('/health')).statusCode, 200)
    release()
    assert.equal((await first).statusCode, 200)
    assert.equal(limit.inFlight, 0, 'the slot was released')
  })
})

describe('operational endpoints and request metrics', () => {
  it('serves health, Prometheus and JSON metrics, recommendations and cache stats; protect guards them', async () => {
    const monitor = createMonitor({ enabled: false, env: {}, onWarning: () => {} })
    monitor.addHealthCheck({ name: 'db', check: () => true })
    const app = await build(
      {
        monitor,
        responseCache: { routes: { '/cached': '1m' } },
        endpoints: { protect: (r) => r.headers['x-ops'] === 'yes' },
      },
      (a) => {
        a.get('/cached', async () => ({ ok: 1 }))
        a.get('/env', { config: { hotpath: { envelope: true } } }, async () => ({ x: 1 }))
      },
    )
    await app.inject('/cached')
    await app.inject('/cached')
    const health = await app.inject('/health')
    assert.equal(health.statusCode, 200)
    assert.equal(health.json().status, 'healthy')
    assert.equal((await app.inject('/health/ready')).json().components[0].name, 'db')
    assert.equal((await app.inject('/metrics')).statusCode, 401)
    const prom = await app.inject({ url: '/metrics', headers: { 'x-ops': 'yes' } })
    assert.match(
      prom.body,
      /hotpath_http_request_duration_seconds_count\{route="\/cached",method="GET",status_class="2xx"\} 2/,
    )
    const json = await app.inject({ url: '/api/metrics', headers: { 'x-ops': 'yes' } })
    assert.ok(json.json().timestamp)
    const stats = await app.inject({ url: '/api/cache/stats', headers: { 'x-ops': 'yes' } })
    assert.equal(stats.json().routes['/cached'].hits, 1)
    const recs = await app.inject({ url: '/api/health/recommendations', headers: { 'x-ops': 'yes' } })
    assert.ok(Array.isArray(recs.json().recommendations))
    const perf = await app.inject({ url: '/api/health/performance', headers: { 'x-ops': 'yes' } })
    assert.ok('operations' in perf.json())
    const env = await app.inject('/env')
    assert.equal(env.json().data.x, 1)
    assert.equal(typeof env.json().meta.durationMs, 'number')
    monitor.close()
  })

  it('a failing critical health check answers 503 with the reasons', async () => {
    const monitor = createMonitor({ enabled: false, runtime: false, env: {} })
    monitor.addHealthCheck({ name: 'redis', check: () => false })
    const app = await build({ monitor, endpoints: {} }, () => {})
    const r = await app.inject('/health/ready')
    assert.equal(r.statusCode, 503)
    assert.deepEqual(r.json().reasons, ['redis: unhealthy (check returned false)'])
  })
})
