/**
 * Issue 10 items 1-10: one regression test per defect found over real sockets, named for what
 * broke. Time moves through a FakeClock shared by the cache and the response cache (no sleeps);
 * defects about the wire (slashes, encodings, headers) go through a real socket.
 */
import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import * as zlib from 'node:zlib'
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import { createCache } from '../../../src/cache/index.js'
import hotpath, { type HotpathFastifyOptions } from '../../../src/fastify/index.js'
import { FakeClock } from '../../../src/time.js'

const apps: FastifyInstance[] = []
after(async () => {
  for (const a of apps) await a.close()
})

async function build(
  routes: (app: FastifyInstance) => void,
  options: HotpathFastifyOptions = {},
  fastifyOptions: FastifyServerOptions = {},
): Promise<{ app: FastifyInstance; clock: FakeClock }> {
  const clock = new FakeClock()
  const app = Fastify(fastifyOptions)
  apps.push(app)
  const responseCache = options.responseCache === false ? false : { clock, ...options.responseCache }
  await app.register(hotpath, { cache: createCache({ name: 'defects', clock }), ...options, responseCache })
  routes(app)
  await app.ready()
  return { app, clock }
}

/** Starts the app on a real socket; returns its base URL. */
async function listen(app: FastifyInstance): Promise<string> {
  await app.listen({ port: 0, host: '127.0.0.1' })
  const addr = app.server.address()
  if (addr === null || typeof addr === 'string') throw new Error('no port')
  return `http://127.0.0.1:${addr.port}`
}

/** Lets pending callbacks run until `done()` holds (bounded: no timing). */
async function until(done: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 2000 && !done(); i++) await new Promise((r) => setImmediate(r))
  assert.ok(done(), what)
}

const BIG = JSON.stringify({
  items: Array.from({ length: 120 }, (_, i) => ({ id: i, name: `item number ${i}` })),
})

describe('issue 10: response-cache defects', () => {
  it('1. stale-while-revalidate refreshes once per key per window, not once per stale hit', async () => {
    let runs = 0
    let gate: (() => void) | undefined
    const { app, clock } = await build((a) => {
      a.get(
        '/swr',
        { config: { hotpath: { cache: { ttl: '10s', staleWhileRevalidate: '1h' } } } },
        async () => {
          runs++
          if (runs > 1) await new Promise<void>((r) => (gate = r))
          return { runs }
        },
      )
    })
    await app.inject('/swr')
    clock.advance(11_000)
    const stale = await Promise.all(Array.from({ length: 10 }, () => app.inject('/swr')))
    for (let i = 0; i < 3; i++) stale.push(await app.inject('/swr'))
    assert.ok(stale.every((r) => r.headers['x-cache'] === 'STALE'))
    await until(() => gate !== undefined, 'the refresh started')
    gate?.()
    const rc = app.hotpath.responseCache
    await until(() => rc !== undefined && rc.refreshing.size === 0, 'the refresh finished')
    assert.equal(runs, 2, '13 stale hits made one background run')
    assert.deepEqual((await app.inject('/swr')).json(), { runs: 2 })
  })

  it('2. stale-while-revalidate refreshes a perIdentity entry with that identity, under its key', async () => {
    const seen: Array<string | undefined> = []
    let version = 1
    const { app, clock } = await build((a) => {
      a.get(
        '/me',
        {
          config: {
            hotpath: {
              cache: { ttl: '10s', staleWhileRevalidate: '1h', perIdentity: (r) => r.headers.authorization },
            },
          },
        },
        async (r) => {
          seen.push(r.headers.authorization)
          return { user: r.headers.authorization, version }
        },
      )
    })
    const alice = { authorization: 'alice' }
    await app.inject({ url: '/me', headers: alice })
    clock.advance(11_000)
    version = 2
    const stale = await app.inject({ url: '/me', headers: alice })
    assert.equal(stale.headers['x-cache'], 'STALE')
    const rc = app.hotpath.responseCache
    await until(() => rc !== undefined && rc.refreshing.size === 0, 'the refresh finished')
    assert.deepEqual(seen, ['alice', 'alice'], 'the refresh ran as alice, never anonymously')
    const fresh = await app.inject({ url: '/me', headers: alice })
    assert.equal(fresh.headers['x-cache'], 'HIT')
    assert.deepEqual(fresh.json(), { user: 'alice', version: 2 }, "alice's entry was refreshed")
    const anon = await app.inject('/me')
    assert.deepEqual(anon.json(), { version: 2 }, 'nothing of alice reached the anonymous key')
  })

  it('3. If-None-Match on PUT gets 412 when the GET is cached through route config', async () => {
    let puts = 0
    const { app } = await build((a) => {
      a.get('/doc', { config: { hotpath: { cache: '1m' } } }, async () => ({ doc: 1 }))
      a.put('/doc', async () => ({ put: ++puts }))
    })
    const etag = (await app.inject('/doc')).headers.etag as string
    const put = await app.inject({ method: 'PUT', url: '/doc', headers: { 'if-none-match': etag } })
    assert.equal(put.statusCode, 412)
    assert.equal(puts, 0, 'the PUT did not run')
    assert.equal((await app.inject('/doc')).headers['x-cache'], 'HIT', 'and did not invalidate the entry')
  })

  it('4. routerOptions.ignoreTrailingSlash (Fastify 5) keys /t and /t/ as one: a POST invalidates both (real socket)', async () => {
    let n = 0
    const { app } = await build(
      (a) => {
        a.get('/t', { config: { hotpath: { cache: '1m' } } }, async () => ({ n }))
        a.post('/t', async () => ({ n: ++n }))
      },
      {},
      { routerOptions: { ignoreTrailingSlash: true, ignoreDuplicateSlashes: true, caseSensitive: false } },
    )
    const base = await listen(app)
    assert.deepEqual(await (await fetch(`${base}/t/`)).json(), { n: 0 })
    assert.equal((await fetch(`${base}/t`)).headers.get('x-cache'), 'HIT', '/t and /t/ are one key')
    assert.equal(
      (await fetch(`${base}//T`)).headers.get('x-cache'),
      'HIT',
      'duplicate slashes and case as the router',
    )
    await fetch(`${base}/t`, { method: 'POST' })
    const after = await fetch(`${base}/t/`)
    assert.deepEqual(await after.json(), { n: 1 }, 'GET /t/ no longer serves the old body')
  })

  it('6. per-route stats are keyed by route pattern: unrouted 404s add no entries', async () => {
    const { app } = await build(
      (a) => {
        a.get('/api/catalog/:id', async (r) => ({ id: (r.params as { id: string }).id }))
      },
      { responseCache: { routes: { '/api/catalog/*': '1m' } } },
    )
    await app.inject('/api/catalog/1')
    await app.inject('/api/catalog/2')
    for (let i = 0; i < 200; i++) await app.inject(`/api/catalog/${i}/nope/${Math.random()}`)
    assert.deepEqual(Object.keys(app.hotpath.cacheStats()), ['/api/catalog/:id'])
    assert.equal(app.hotpath.cacheStats()['/api/catalog/:id']?.misses, 2)
  })

  it('7. RateLimit-* and Retry-After are never stored: each client sees its own live counters (real socket)', async () => {
    const { app } = await build(
      (a) => {
        a.get('/other', async () => ({ other: true }))
        a.get('/cached', { config: { hotpath: { cache: '1m' } } }, async (_r, reply) => {
          reply.header('retry-after', '120')
          return { cached: true }
        })
      },
      { rateLimit: { limit: 100, window: '1m', key: (r) => String(r.headers['x-client']) } },
    )
    const base = await listen(app)
    const a = { 'x-client': 'a' }
    await fetch(`${base}/other`, { headers: a })
    await fetch(`${base}/other`, { headers: a })
    const miss = await fetch(`${base}/cached`, { headers: a })
    assert.equal(miss.headers.get('x-cache'), 'MISS')
    assert.match(String(miss.headers.get('ratelimit')), /r=97/)
    const b = await fetch(`${base}/cached`, { headers: { 'x-client': 'b' } })
    assert.equal(b.headers.get('x-cache'), 'HIT')
    assert.match(String(b.headers.get('ratelimit')), /r=99/, "B sees its own counter, not A's")
    assert.equal(b.headers.get('retry-after'), null, 'a per-request Retry-After is not replayed')
  })

  it("8. an origin's Age counts against freshness (max-age=3 with Age: 2 is stale 1.25 s later)", async () => {
    let runs = 0
    const { app, clock } = await build((a) => {
      a.get('/aged', { config: { hotpath: { cache: '1m' } } }, async (_r, reply) => {
        reply.header('cache-control', 'public, max-age=3')
        reply.header('age', '2')
        return { runs: ++runs }
      })
    })
    await app.inject('/aged')
    clock.advance(500)
    const fresh = await app.inject('/aged')
    assert.equal(fresh.headers['x-cache'], 'HIT')
    assert.equal(fresh.headers.age, '2', 'Age includes the origin age')
    clock.advance(750)
    const later = await app.inject('/aged')
    assert.notEqual(later.headers['x-cache'], 'HIT', 'no longer fresh 1.25 s after storing')
    assert.equal(runs, 2)
  })

  it('9. invalid q-values are invalid, not q=1; zstd is offered where the runtime can make it (real socket)', async () => {
    const { app } = await build((a) => {
      a.get('/big', { config: { hotpath: { cache: '1m' } } }, async (_r, reply) => {
        reply.type('application/json')
        return BIG
      })
    })
    const base = await listen(app)
    const get = (ae: string) => fetch(`${base}/big`, { headers: { 'accept-encoding': ae } })
    // fetch decodes bodies it understands; the content-encoding header says what was sent
    assert.equal((await get('br;q=-1, gzip;q=abc')).headers.get('content-encoding'), null)
    assert.equal((await get('br;q=2, gzip')).headers.get('content-encoding'), 'gzip')
    assert.equal((await get('br;q=0.5, gzip;q=0.4')).headers.get('content-encoding'), 'br')
    const zstd = await get('zstd')
    const canZstd = typeof (zlib as unknown as { zstdCompressSync?: unknown }).zstdCompressSync === 'function'
    assert.equal(
      zstd.headers.get('content-encoding'),
      canZstd ? 'zstd' : null,
      'zstd only where the runtime has it',
    )
    if (!canZstd) assert.equal(await zstd.text(), BIG, 'Node 20 falls back to identity')
  })

  it('10. hit-for-miss: after an unstorable response, followers pass straight through instead of queueing', async () => {
    let running = 0
    let peak = 0
    let release: (() => void) | undefined
    const gate = new Promise<void>((r) => (release = r))
    let first = true
    const { app } = await build((a) => {
      a.get('/cookie', { config: { hotpath: { cache: '1m' } } }, async (_r, reply) => {
        reply.header('set-cookie', 'sid=1')
        if (first) {
          first = false
          return { first: true }
        }
        running++
        peak = Math.max(peak, running)
        await gate
        running--
        return { ok: true }
      })
    })
    await app.inject('/cookie') // the leader's response carries Set-Cookie: not storable
    const followers = Array.from({ length: 20 }, () => app.inject('/cookie'))
    await until(() => running === 20, 'all 20 run at once, none waits on a flight')
    release?.()
    const res = await Promise.all(followers)
    assert.ok(res.every((r) => r.statusCode === 200 && r.headers['set-cookie'] === 'sid=1'))
    assert.equal(peak, 20)
    assert.equal(app.hotpath.cacheStats()['/cookie']?.bypasses['hit-for-miss'], 20)
    assert.equal(app.hotpath.cacheStats()['/cookie']?.coalesced, 0)
  })

  it('a stale-if-error answer gets the same hit headers as any other (it lacked Vary: accept-encoding)', async () => {
    let broken = false
    const { app, clock } = await build((a) => {
      a.get(
        '/sie',
        { config: { hotpath: { cache: { ttl: '10s', staleIfError: '1h' } } } },
        async (_r, reply) => {
          if (broken) return reply.code(503).send({ error: 'down' })
          reply.type('application/json')
          return BIG
        },
      )
    })
    const fresh = await app.inject({ url: '/sie', headers: { 'accept-encoding': 'gzip' } })
    clock.advance(11_000)
    broken = true
    const stale = await app.inject({ url: '/sie', headers: { 'accept-encoding': 'gzip' } })
    assert.equal(stale.statusCode, 200)
    assert.equal(stale.headers['x-cache'], 'STALE')
    for (const h of ['vary', 'etag', 'content-encoding', 'content-type'])
      assert.equal(stale.headers[h], fresh.headers[h], h)
    assert.equal(stale.headers.age, '11')
    assert.equal(zlib.gunzipSync(stale.rawPayload).toString(), BIG)
  })
})

describe('cache statistics of the response cache', () => {
  it('regression: an L1 miss was counted twice (by the synchronous lookup and again by the asynchronous one)', async () => {
    const cache = createCache({ name: 'stats' })
    const app = Fastify()
    apps.push(app)
    await app.register(hotpath, { cache, responseCache: { routes: { '/r/*': '10m' } }, compression: false })
    app.get('/r/:id', async (request) => ({ id: (request.params as { id: string }).id }))
    // a Vary on a request header: the key holds a marker, each language its own variant
    app.get('/lang', { config: { hotpath: { cache: '10m' } } }, async (request, reply) => {
      reply.header('vary', 'accept-language')
      return { lang: request.headers['accept-language'] }
    })
    const base = await listen(app)
    const get = async (path: string, lang?: string) => {
      const r = await fetch(
        `${base}${path}`,
        lang === undefined ? {} : { headers: { 'accept-language': lang } },
      )
      await r.text()
      return r.headers.get('x-cache')
    }
    for (const id of [1, 2, 3]) assert.equal(await get(`/r/${id}`), 'MISS')
    for (const id of [1, 2]) assert.equal(await get(`/r/${id}`), 'HIT')
    let l1 = cache.stats().l1
    assert.equal(l1.misses, 3)
    assert.equal(l1.hits, 2)
    assert.equal(l1.hitRatio, 0.4)

    // en: the key misses; fr: the marker hits, the variant misses; then both variants hit
    assert.equal(await get('/lang', 'en'), 'MISS')
    assert.equal(await get('/lang', 'fr'), 'MISS')
    assert.equal(await get('/lang', 'en'), 'HIT')
    assert.equal(await get('/lang', 'fr'), 'HIT')
    l1 = cache.stats().l1
    assert.equal(l1.misses, 3 + 2, 'one miss for the key, one for the second variant')
    assert.equal(l1.hits, 2 + 5, 'the marker on the second request, marker and variant on the last two')
  })
})

describe('per-route response-cache stats against what the clients saw', () => {
  it('regression: a stale-while-revalidate answer also counted a miss (its background refresh), and a stale-if-error answer counted a miss and a stale serve', async () => {
    let failing = false
    const { app, clock } = await build((a) => {
      a.get(
        '/swr',
        { config: { hotpath: { cache: { ttl: '10s', staleWhileRevalidate: '1h' } } } },
        async () => ({
          swr: true,
        }),
      )
      a.get(
        '/sie',
        { config: { hotpath: { cache: { ttl: '10s', staleIfError: '1h' } } } },
        async (_req, reply) => {
          if (failing) reply.code(503)
          return { sie: true }
        },
      )
    })
    const seen: Record<string, Record<string, number>> = { '/swr': {}, '/sie': {} }
    const get = async (url: string) => {
      const r = await app.inject(url)
      const x = String(r.headers['x-cache'])
      const counts = seen[url] as Record<string, number>
      counts[x] = (counts[x] ?? 0) + 1
      return x
    }
    assert.equal(await get('/swr'), 'MISS')
    assert.equal(await get('/swr'), 'HIT')
    clock.advance(11_000)
    assert.equal(await get('/swr'), 'STALE')
    const rc = app.hotpath.responseCache
    await until(() => rc !== undefined && rc.refreshing.size === 0, 'the refresh finished')
    assert.equal(await get('/swr'), 'HIT', 'the refresh stored a fresh copy')
    assert.equal(await get('/sie'), 'MISS')
    clock.advance(11_000)
    failing = true
    assert.equal(await get('/sie'), 'STALE')
    const stats = app.hotpath.cacheStats()
    for (const url of ['/swr', '/sie']) {
      const s = stats[url]
      const x = seen[url] as Record<string, number>
      assert.deepEqual(
        { hits: s?.hits, misses: s?.misses, staleServes: s?.staleServes },
        { hits: x.HIT ?? 0, misses: x.MISS ?? 0, staleServes: x.STALE ?? 0 },
        url,
      )
    }
  })
})

describe('per-route response-cache stats of coalesced requests', () => {
  it("regression: a coalesced request, answered HIT from the leader's response, was also counted as a miss", async () => {
    let runs = 0
    let release: (() => void) | undefined
    const { app } = await build((a) => {
      a.get('/slow', { config: { hotpath: { cache: '1m' } } }, async () => {
        runs++
        await new Promise<void>((r) => (release = r))
        return { slow: true }
      })
    })
    const pending = Array.from({ length: 5 }, () => app.inject('/slow'))
    await until(() => release !== undefined, 'the leader runs the handler')
    release?.()
    const seen: Record<string, number> = {}
    for (const r of await Promise.all(pending)) {
      const x = String(r.headers['x-cache'])
      seen[x] = (seen[x] ?? 0) + 1
    }
    assert.equal(runs, 1)
    assert.deepEqual(seen, { MISS: 1, HIT: 4 })
    const s = app.hotpath.cacheStats()['/slow']
    assert.deepEqual(
      { misses: s?.misses, coalesced: s?.coalesced, hits: s?.hits },
      { misses: 1, coalesced: 4, hits: 0 },
    )
  })
})

describe('per-route bytesServed against the bodies the clients received', () => {
  it('regression: a HEAD hit counted the body it did not send, and a stale-if-error answer did not count the body it sent', async () => {
    let failing = false
    const { app, clock } = await build(
      (a) => {
        a.get(
          '/b',
          { config: { hotpath: { cache: { ttl: '10s', staleIfError: '1h' } } } },
          async (_req, reply) => {
            if (failing) reply.code(503)
            return { body: 'x'.repeat(100) }
          },
        )
      },
      { compression: false },
    )
    let fromCache = 0
    const request = async (method: 'GET' | 'HEAD', expected: string) => {
      const r = await app.inject({ method, url: '/b' })
      assert.equal(r.headers['x-cache'], expected, `${method} ${expected}`)
      if (expected !== 'MISS') fromCache += r.rawPayload.length
      assert.equal(app.hotpath.cacheStats()['/b']?.bytesServed, fromCache, `after ${method} ${expected}`)
    }
    await request('GET', 'MISS')
    await request('GET', 'HIT')
    await request('HEAD', 'HIT')
    clock.advance(11_000)
    failing = true
    await request('GET', 'STALE')
    await request('HEAD', 'STALE')
    assert.ok(fromCache > 0)
  })
})

describe('route rate limits', () => {
  it('regression: the HEAD route Fastify adds for a GET had a budget of its own; now they share one', async () => {
    const app = Fastify()
    await app.register(hotpath, { monitor: undefined })
    app.get(
      '/l',
      { config: { hotpath: { cache: false, rateLimit: { limit: 2, window: '1m' } } } },
      async () => 'ok',
    )
    await app.ready()
    try {
      const codes: number[] = []
      for (const method of ['GET', 'HEAD', 'GET', 'HEAD'] as const) {
        codes.push((await app.inject({ method, url: '/l' })).statusCode)
      }
      assert.deepEqual(codes, [200, 200, 429, 429])
    } finally {
      await app.close()
    }
  })
})
