/**
 * Issue 10 items 12-14, issue 9 item 11 and unknown-key refusal: hotpath next to other Fastify
 * plugins (the real @fastify/rate-limit, whose `config.rateLimit` declaration used to clash with
 * hotpath's: TS2717) and an app's own routes.
 */
import assert from 'node:assert/strict'
import { Writable } from 'node:stream'
import { after, describe, it } from 'node:test'
import fastifyRateLimit from '@fastify/rate-limit'
import Fastify, { type FastifyInstance } from 'fastify'
import { createCache } from '../../../src/cache/index.js'
import hotpath from '../../../src/fastify/index.js'
import { createMonitor } from '../../../src/metrics/index.js'
import { FakeClock } from '../../../src/time.js'

const apps: FastifyInstance[] = []
after(async () => {
  for (const a of apps) await a.close()
})

function track(app: FastifyInstance): FastifyInstance {
  apps.push(app)
  return app
}

describe('coexistence with other plugins (issue 10 item 12)', () => {
  it('a route with another plugin config.rateLimit is left to that plugin; hotpath reads only config.hotpath', async () => {
    const app = track(Fastify())
    await app.register(fastifyRateLimit, { global: false })
    await app.register(hotpath, { rateLimit: { limit: 100, window: '1m' } })
    let runs = 0
    app.get(
      '/both',
      { config: { rateLimit: { max: 2, timeWindow: '1 minute' }, hotpath: { cache: '1m' } } },
      async () => ({ runs: ++runs }),
    )
    await app.ready()
    const a = await app.inject('/both')
    assert.equal(a.statusCode, 200, 'not a 500 from a misread config.rateLimit')
    assert.equal(a.headers['ratelimit-policy'], '"global";q=100;w=60', "hotpath's own global limit applies")
    const b = await app.inject('/both')
    assert.equal(b.headers['x-cache'], 'HIT', 'config.hotpath.cache is honoured')
    assert.equal((await app.inject('/both')).statusCode, 429, "the other plugin's limit still works")
  })

  it('a misspelt key under config.hotpath is refused when the route is registered, naming the closest', async () => {
    const app = track(Fastify())
    await app.register(hotpath, {})
    assert.throws(
      () => app.get('/x', { config: { hotpath: { cahce: '1m' } as never } }, async () => ({})),
      /route GET \/x config\.hotpath: unknown option "cahce"\. Did you mean "cache"\?/,
    )
  })
})

describe('unknown keys in the plugin options', () => {
  for (const [options, message] of [
    [
      { responseCach: {} },
      /hotpath fastify options: unknown option "responseCach"\. Did you mean "responseCache"\?/,
    ],
    [{ responseCache: { ttl: '1m' } }, /responseCache: unknown option "ttl"/],
    [
      { responseCache: { routes: { '/a': { ttl: '1m', tag: ['x'] } } } },
      /unknown option "tag"\. Did you mean "tags"\?/,
    ],
    [{ responseCache: { coalesce: { timeot: '1s' } } }, /responseCache\.coalesce: unknown option "timeot"/],
    [{ endpoints: { prefx: '/ops' } }, /endpoints: unknown option "prefx"\. Did you mean "prefix"\?/],
    [
      { endpoints: { paths: { helth: '/h' } } },
      /endpoints\.paths: unknown option "helth"\. Did you mean "health"\?/,
    ],
    [
      { compression: { treshold: 10 } },
      /compression: unknown option "treshold"\. Did you mean "threshold"\?/,
    ],
    [{ shedding: { maxEventLoopDelai: '1s' } }, /shedding options: unknown option "maxEventLoopDelai"/],
  ] as const) {
    it(`refuses ${JSON.stringify(options)}`, async () => {
      const app = track(Fastify())
      await assert.rejects(async () => {
        await app.register(hotpath, options as never)
        await app.ready()
      }, message)
    })
  }
})

describe('operational endpoints are opt-in (issue 10 item 13)', () => {
  it('an app with its own /health starts with hotpath registered, and no operational endpoint is public', async () => {
    const monitor = createMonitor({ enabled: false, runtime: false, env: {}, onWarning: () => {} })
    const app = track(Fastify())
    await app.register(hotpath, { monitor })
    app.get('/health', async () => ({ mine: true }))
    await app.ready()
    assert.deepEqual((await app.inject('/health')).json(), { mine: true })
    for (const url of [
      '/metrics',
      '/api/metrics',
      '/api/cache/stats',
      '/api/health/performance',
      '/health/ready',
    ])
      assert.equal((await app.inject(url)).statusCode, 404, url)
    monitor.close()
  })

  it('mounts under a prefix and guards the read endpoints with a token (probes stay open)', async () => {
    const monitor = createMonitor({ enabled: false, runtime: false, env: {}, onWarning: () => {} })
    const token = 'a-token-of-16-chars-or-more'
    const app = track(Fastify())
    await app.register(hotpath, { monitor, endpoints: { prefix: '/_ops', token } })
    app.get('/health', async () => ({ mine: true }))
    await app.ready()
    assert.deepEqual((await app.inject('/health')).json(), { mine: true })
    assert.equal((await app.inject('/_ops/health/live')).statusCode, 200)
    assert.equal((await app.inject('/_ops/metrics')).statusCode, 401)
    assert.equal(
      (await app.inject({ url: '/_ops/metrics', headers: { authorization: 'Bearer wrong' } })).statusCode,
      401,
    )
    const ok = await app.inject({
      url: '/_ops/api/cache/stats',
      headers: { authorization: `Bearer ${token}` },
    })
    assert.equal(ok.statusCode, 200)
    monitor.close()
  })
})

/** A logger that keeps what it is given. */
function capture(): { lines: Array<Record<string, unknown>>; stream: Writable } {
  const lines: Array<Record<string, unknown>> = []
  const stream = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split('\n')) if (l) lines.push(JSON.parse(l))
      cb()
    },
  })
  return { lines, stream }
}

describe('logging goes through Fastify (issue 10 item 14)', () => {
  it('a failed background revalidation is logged by fastify.log, not process.emitWarning', async () => {
    const clock = new FakeClock()
    const { lines, stream } = capture()
    const warnings: Error[] = []
    const onWarning = (w: Error) => warnings.push(w)
    process.on('warning', onWarning)
    const app = track(Fastify({ logger: { level: 'warn', stream } }))
    await app.register(hotpath, { cache: createCache({ name: 'log', clock }), responseCache: { clock } })
    let broken = false
    app.get(
      '/w',
      { config: { hotpath: { cache: { ttl: '10s', staleWhileRevalidate: '1h' } } } },
      async (_r, reply) => (broken ? reply.code(503).send({ error: 'down' }) : { ok: true }),
    )
    await app.ready()
    await app.inject('/w')
    clock.advance(11_000)
    broken = true
    assert.equal((await app.inject('/w')).headers['x-cache'], 'STALE')
    for (let i = 0; i < 50 && !lines.some((l) => String(l.msg).includes('revalidation failed')); i++)
      await new Promise((r) => setImmediate(r))
    process.off('warning', onWarning)
    assert.ok(
      lines.some((l) => String(l.msg).includes('background revalidation failed') && l.level === 40),
      JSON.stringify(lines),
    )
    assert.equal(warnings.length, 0)
  })
})

describe('response-cache hits reach hotpath_cache_requests_total (issue 9 item 11)', () => {
  it('after MISS, HIT, HIT the metrics count 2 hits', async () => {
    const monitor = createMonitor({ enabled: false, runtime: false, env: {}, onWarning: () => {} })
    const cache = createCache({ name: 'hits', monitor })
    const app = track(Fastify())
    await app.register(hotpath, { cache, monitor, responseCache: { routes: { '/h': '1m' } } })
    app.get('/h', async () => ({ ok: true }))
    await app.ready()
    assert.deepEqual(
      [
        (await app.inject('/h')).headers['x-cache'],
        (await app.inject('/h')).headers['x-cache'],
        (await app.inject('/h')).headers['x-cache'],
      ],
      ['MISS', 'HIT', 'HIT'],
    )
    const text = await monitor.metrics()
    assert.match(text, /hotpath_cache_requests_total\{cache="hits",tier="l1",result="hit"\} 2/)
    assert.deepEqual(app.hotpath.cacheStats()['/h']?.hits, 2)
    await cache.close()
    monitor.close()
  })

  it("regression: with the plugin's own cache, the metrics counted its L1 hits but never its misses", async () => {
    const monitor = createMonitor({ enabled: false, runtime: false, env: {}, onWarning: () => {} })
    const app = track(Fastify())
    await app.register(hotpath, { monitor, responseCache: { routes: { '/p/*': '1m' } } })
    app.get('/p/:id', async (request) => ({ id: (request.params as { id: string }).id }))
    await app.ready()
    const seen: unknown[] = []
    for (const id of [1, 2, 3, 1, 2]) seen.push((await app.inject(`/p/${id}`)).headers['x-cache'])
    assert.deepEqual(seen, ['MISS', 'MISS', 'MISS', 'HIT', 'HIT'])
    const text = await monitor.metrics()
    assert.match(text, /hotpath_cache_requests_total\{cache="http",tier="l1",result="hit"\} 2/)
    assert.match(text, /hotpath_cache_requests_total\{cache="http",tier="l1",result="miss"\} 3/)
    await app.close()
    assert.doesNotMatch(
      await monitor.metrics(),
      /hotpath_cache_requests_total\{cache="http"/,
      'gone with the app',
    )
    monitor.close()
  })

  it('two caches of one name attached to one monitor get a series each (an exposition must not repeat a label set)', async () => {
    const monitor = createMonitor({ enabled: false, runtime: false, env: {}, onWarning: () => {} })
    const a = createCache({ name: 'twin', monitor })
    const b = createCache({ name: 'twin', monitor })
    await a.getOrSet('k', () => 1)
    await a.getOrSet('k', () => 1)
    await b.getOrSet('k', () => 2)
    const text = await monitor.metrics()
    const sets = [...text.matchAll(/^(hotpath_cache_requests_total\{[^}]*\}) \d+$/gm)].map((m) => m[1])
    assert.equal(new Set(sets).size, sets.length, 'no label set repeated')
    assert.match(text, /hotpath_cache_requests_total\{cache="twin",tier="l1",result="hit"\} 1$/m)
    assert.match(text, /hotpath_cache_requests_total\{cache="twin",tier="l1",result="miss"\} 1$/m)
    assert.match(text, /hotpath_cache_requests_total\{cache="twin#2",tier="l1",result="miss"\} 1$/m)
    await a.close()
    await b.close()
    monitor.close()
  })
})
