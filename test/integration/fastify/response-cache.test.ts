import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { brotliDecompressSync, gunzipSync } from 'node:zlib'
import Fastify, { type FastifyInstance } from 'fastify'
import { createCache } from '../../../src/cache/index.js'
import hotpath, { type HotpathFastifyOptions } from '../../../src/fastify/index.js'
import { cleanupPrefix, REDIS_URL, uniquePrefix } from '../../helpers/services.js'

const apps: FastifyInstance[] = []
after(async () => {
  for (const a of apps) await a.close()
})

const BIG = { items: Array.from({ length: 200 }, (_, i) => ({ id: i, name: `item number ${i}` })) }

async function appWith(
  routes: (app: FastifyInstance, counts: Record<string, number>) => void,
  options: HotpathFastifyOptions = {},
  fastifyOptions: Record<string, unknown> = {},
): Promise<{ app: FastifyInstance; counts: Record<string, number> }> {
  const app = Fastify(fastifyOptions)
  apps.push(app)
  await app.register(hotpath, { responseCache: { routes: { '/c/*': '1m' } }, ...options })
  const counts: Record<string, number> = {}
  routes(app, counts)
  await app.ready()
  return { app, counts }
}

const bump = (counts: Record<string, number>, k: string) => {
  counts[k] = (counts[k] ?? 0) + 1
}

describe('response cache: the shared-cache checklist', () => {
  it('1. Authorization / Cookie requests are neither served from nor stored in the shared entry', async () => {
    const { app } = await appWith((a, c) => {
      a.get('/c/data', async () => {
        bump(c, 'data')
        return { secret: c.data }
      })
    })
    await app.inject('/c/data') // stores the shared entry (data 1)
    const withAuth = await app.inject({ url: '/c/data', headers: { authorization: 'Bearer alice' } })
    assert.equal(withAuth.headers['x-cache'], undefined, 'not served from the shared entry')
    assert.deepEqual(withAuth.json(), { secret: 2 })
    const withCookie = await app.inject({ url: '/c/data', headers: { cookie: 'sid=1' } })
    assert.deepEqual(withCookie.json(), { secret: 3 })
    const anon = await app.inject('/c/data')
    assert.deepEqual(anon.json(), { secret: 1 }, "alice's response was not stored for everybody")
  })

  it('1b. per-identity keys cache per user; a public / s-maxage response may be shared', async () => {
    const { app, counts } = await appWith((a, c) => {
      a.get(
        '/me',
        {
          config: {
            hotpath: {
              cache: { ttl: '1m', perIdentity: (r) => String(r.headers.authorization ?? '') || undefined },
            },
          },
        },
        async (r) => {
          bump(c, 'me')
          return { user: r.headers.authorization }
        },
      )
      a.get('/c/public', async (_r, reply) => {
        bump(c, 'public')
        reply.header('cache-control', 'public, s-maxage=60')
        return { n: c.public }
      })
    })
    assert.deepEqual((await app.inject({ url: '/me', headers: { authorization: 'alice' } })).json(), {
      user: 'alice',
    })
    assert.deepEqual((await app.inject({ url: '/me', headers: { authorization: 'bob' } })).json(), {
      user: 'bob',
    })
    const again = await app.inject({ url: '/me', headers: { authorization: 'alice' } })
    assert.equal(again.headers['x-cache'], 'HIT')
    assert.deepEqual(again.json(), { user: 'alice' })
    assert.equal(counts.me, 2)
    await app.inject({ url: '/c/public', headers: { authorization: 'alice' } })
    const shared = await app.inject('/c/public')
    assert.equal(shared.headers['x-cache'], 'HIT')
  })

  it('2. Set-Cookie is never stored or replayed, including to coalesced requests', async () => {
    const { app, counts } = await appWith((a, c) => {
      a.get('/c/login', async (_r, reply) => {
        bump(c, 'login')
        const mine = c.login
        await new Promise((r) => setTimeout(r, 20))
        reply.header('set-cookie', `sid=${mine}`)
        return { ok: true }
      })
    })
    const rs = await Promise.all(Array.from({ length: 5 }, () => app.inject('/c/login')))
    const cookies = rs.map((r) => r.headers['set-cookie'])
    assert.equal(new Set(cookies).size, 5, 'every response carries its own cookie: none was replayed')
    assert.equal(counts.login, 5)
    const later = await app.inject('/c/login')
    assert.equal(later.headers['x-cache'], undefined)
  })

  it('3. response no-store / private / no-cache are not stored; request no-store stores nothing', async () => {
    const { app, counts } = await appWith((a, c) => {
      for (const cc of ['no-store', 'private', 'no-cache']) {
        a.get(`/c/${cc}`, async (_r, reply) => {
          bump(c, cc)
          reply.header('cache-control', cc)
          return { cc }
        })
      }
      a.get('/c/plain', async () => {
        bump(c, 'plain')
        return { ok: 1 }
      })
    })
    for (const cc of ['no-store', 'private', 'no-cache']) {
      await app.inject(`/c/${cc}`)
      await app.inject(`/c/${cc}`)
      assert.equal(counts[cc], 2, `${cc} was not stored`)
    }
    await app.inject({ url: '/c/plain', headers: { 'cache-control': 'no-store' } })
    await app.inject('/c/plain')
    assert.equal(counts.plain, 2, 'the no-store request left nothing behind')
  })

  it('4. only GET/HEAD are served; the key includes the method; a successful unsafe method invalidates the URL', async () => {
    const { app } = await appWith((a, c) => {
      a.get('/c/item', async () => {
        bump(c, 'get')
        return { v: c.get }
      })
      a.post('/c/item', async () => {
        bump(c, 'post')
        return { posted: c.post }
      })
    })
    await app.inject('/c/item')
    const head = await app.inject({ method: 'HEAD', url: '/c/item' })
    assert.equal(head.headers['x-cache'], 'HIT')
    assert.equal(head.body, '')
    const p1 = await app.inject({ method: 'POST', url: '/c/item' })
    assert.deepEqual(p1.json(), { posted: 1 }, 'POST is never answered from the GET entry')
    const afterPost = await app.inject('/c/item')
    assert.deepEqual(afterPost.json(), { v: 2 }, 'the POST invalidated the URL')
  })

  it('5. Vary is honoured and Vary: * is not stored', async () => {
    const { app, counts } = await appWith((a, c) => {
      a.get('/c/lang', async (r, reply) => {
        bump(c, 'lang')
        reply.header('vary', 'accept-language')
        return { lang: r.headers['accept-language'] }
      })
      a.get('/c/star', async (_r, reply) => {
        bump(c, 'star')
        reply.header('vary', '*')
        return {}
      })
    })
    const en = await app.inject({ url: '/c/lang', headers: { 'accept-language': 'en' } })
    const fr = await app.inject({ url: '/c/lang', headers: { 'accept-language': 'fr' } })
    assert.deepEqual(fr.json(), { lang: 'fr' })
    const en2 = await app.inject({ url: '/c/lang', headers: { 'accept-language': 'en' } })
    assert.equal(en2.headers['x-cache'], 'HIT')
    assert.deepEqual(en2.json(), en.json())
    assert.equal(counts.lang, 2)
    await app.inject('/c/star')
    await app.inject('/c/star')
    assert.equal(counts.star, 2)
  })

  it('6. an encoding only goes to a client that accepts it, each with its own ETag', async () => {
    const { app } = await appWith((a) => {
      a.get('/c/big', async () => BIG)
    })
    const br = await app.inject({ url: '/c/big', headers: { 'accept-encoding': 'br' } })
    const gz = await app.inject({ url: '/c/big', headers: { 'accept-encoding': 'gzip' } })
    const id = await app.inject({ url: '/c/big', headers: { 'accept-encoding': 'identity' } })
    const none = await app.inject({ url: '/c/big', headers: { 'accept-encoding': 'br;q=0, gzip;q=0' } })
    assert.equal(br.headers['content-encoding'], 'br')
    assert.equal(gz.headers['content-encoding'], 'gzip')
    assert.equal(id.headers['content-encoding'], undefined)
    assert.equal(none.headers['content-encoding'], undefined)
    assert.deepEqual(JSON.parse(brotliDecompressSync(br.rawPayload).toString()), BIG)
    assert.deepEqual(JSON.parse(gunzipSync(gz.rawPayload).toString()), BIG)
    assert.equal(new Set([br.headers.etag, gz.headers.etag, id.headers.etag]).size, 3)
    assert.match(String(br.headers.vary), /accept-encoding/)
  })

  it('7. only configured statuses are stored; never 206 or 5xx', async () => {
    const { app, counts } = await appWith((a, c) => {
      a.get('/c/missing', async (_r, reply) => {
        bump(c, '404')
        return reply.code(404).send({ nope: true })
      })
      a.get('/c/partial', async (_r, reply) => {
        bump(c, '206')
        return reply.code(206).header('content-range', 'bytes 0-1/10').send('ab')
      })
      a.get('/c/boom', async (_r, reply) => {
        bump(c, '500')
        return reply.code(500).send({ error: 1 })
      })
    })
    for (const url of ['/c/missing', '/c/partial', '/c/boom']) {
      await app.inject(url)
      await app.inject(url)
    }
    assert.deepEqual(counts, { '404': 2, '206': 2, '500': 2 })
    const bad = Fastify()
    await assert.rejects(async () => {
      await bad.register(hotpath, { responseCache: { statuses: [206] } })
      await bad.ready()
    }, /206/)
    await bad.close()
  })

  it('8. hop-by-hop headers are not stored; Age grows on hits', async () => {
    const { app } = await appWith((a) => {
      a.get('/c/hop', async (_r, reply) => {
        reply.header('connection', 'x-secret')
        reply.header('x-secret', 'hop')
        reply.header('keep-alive', 'timeout=5')
        reply.header('x-kept', 'yes')
        reply.header('age', '10')
        return { ok: 1 }
      })
    })
    await app.inject('/c/hop')
    const hit = await app.inject('/c/hop')
    assert.equal(hit.headers['x-cache'], 'HIT')
    assert.equal(hit.headers['x-secret'], undefined)
    assert.equal(hit.headers['keep-alive'], undefined)
    assert.equal(hit.headers['x-kept'], 'yes')
    assert.equal(hit.headers.age, '10', 'the origin Age is carried on')
  })

  it('9. the key is normalized as the router sees the URL; nothing is cached by extension', async () => {
    const { app, counts } = await appWith((a, c) => {
      a.get('/c/q', async (r) => {
        bump(c, 'q')
        return { q: r.query }
      })
      a.get('/c/a%2Fb', async () => {
        bump(c, 'slash')
        return {}
      })
      a.get('/static/app.js', async () => {
        bump(c, 'js')
        return 'x'
      })
    })
    await app.inject('/c/q?b=2&a=1')
    const reordered = await app.inject('/c/q?a=1&b=2')
    assert.equal(reordered.headers['x-cache'], 'HIT')
    const encodedTilde = await app.inject('/c/q?a=1&b=2'.replace('/c/q', '/c/%71'))
    assert.equal(encodedTilde.headers['x-cache'], 'HIT', '%71 is the unreserved "q"')
    await app.inject('/static/app.js')
    await app.inject('/static/app.js')
    assert.equal(counts.js, 2, 'a .js path is not cached because of its extension')
  })

  it('10. unkeyed inputs cannot change a cached body for others', async () => {
    const { app, counts } = await appWith(
      (a, c) => {
        a.get('/c/host', async (r) => {
          bump(c, 'host')
          return { link: `https://${r.headers['x-forwarded-host'] ?? r.headers.host}/x` }
        })
      },
      {},
      { trustProxy: true },
    )
    await app.inject({
      url: '/c/host',
      headers: { host: 'good.example', 'x-forwarded-host': 'evil.example' },
    })
    const victim = await app.inject({ url: '/c/host', headers: { host: 'good.example' } })
    assert.deepEqual(victim.json(), { link: 'https://good.example/x' })
    const rewritten = await app.inject({
      url: '/c/host',
      headers: { host: 'good.example', 'x-original-url': '/admin' },
    })
    assert.equal(rewritten.headers['x-cache'], undefined, 'X-Original-URL bypasses the cache')
    assert.equal(counts.host, 3)
  })

  it('11. no client-sendable header bypasses or purges the cache', async () => {
    const { app, counts } = await appWith((a, c) => {
      a.get('/c/x', async () => {
        bump(c, 'x')
        return { n: c.x }
      })
    })
    await app.inject('/c/x')
    for (const headers of [
      { 'cache-control': 'no-cache' },
      { pragma: 'no-cache' },
      { 'cache-control': 'max-age=0' },
      { 'x-purge': '1' },
    ]) {
      const r = await app.inject({ url: '/c/x', headers })
      assert.equal(r.headers['x-cache'], 'HIT', JSON.stringify(headers))
    }
    const purge = await app.inject({
      method: 'POST',
      url: '/api/cache/invalidate',
      payload: { urls: ['/c/x'] },
    })
    assert.equal(purge.statusCode, 404, 'no invalidation endpoint without a token')
    assert.equal(counts.x, 1)
  })

  it('12. 304 only for GET/HEAD per URL; other methods with a matching If-None-Match get 412', async () => {
    const { app } = await appWith((a) => {
      a.get('/c/doc', async () => ({ doc: 1 }))
      a.put('/c/doc', async () => ({ saved: true }))
      a.get('/c/other', async () => ({ other: 1 }))
    })
    const first = await app.inject('/c/doc')
    const etag = first.headers.etag as string
    assert.equal((await app.inject({ url: '/c/doc', headers: { 'if-none-match': etag } })).statusCode, 304)
    assert.equal(
      (await app.inject({ url: '/c/doc', headers: { 'if-none-match': `"x", W/${etag}` } })).statusCode,
      304,
      'weak comparison, lists',
    )
    await app.inject('/c/other')
    assert.equal(
      (await app.inject({ url: '/c/other', headers: { 'if-none-match': etag } })).statusCode,
      200,
      'per URL',
    )
    const put = await app.inject({ method: 'PUT', url: '/c/doc', headers: { 'if-none-match': etag } })
    assert.equal(put.statusCode, 412)
    const putOk = await app.inject({ method: 'PUT', url: '/c/doc', headers: { 'if-none-match': '"nope"' } })
    assert.equal(putOk.statusCode, 200)
  })

  it('13. memory is bounded by entries, bytes and per-body size under random query strings', async () => {
    const cache = createCache({ memory: { maxEntries: 100, maxBytes: 200_000 } })
    const { app, counts } = await appWith(
      (a, c) => {
        a.get('/c/r', async (r) => {
          bump(c, 'r')
          return { q: r.query, pad: 'x'.repeat(500) }
        })
        a.get('/c/huge', async () => {
          bump(c, 'huge')
          return 'y'.repeat(2_000_000)
        })
      },
      { cache },
    )
    for (let i = 0; i < 2000; i++) await app.inject(`/c/r?rand=${Math.random()}`)
    assert.ok(cache.stats().l1.entries <= 100)
    assert.ok(cache.stats().l1.bytes <= 200_000)
    await app.inject('/c/huge')
    await app.inject('/c/huge')
    assert.equal(counts.huge, 2, 'a body over maxBodyBytes is not stored')
    assert.equal(app.hotpath.cacheStats()['/c/huge']?.bypasses['too-large'], 2)
    await cache.close()
  })

  it('14. coalescing: 1,000 concurrent identical requests run the handler once; a failing leader lets the others run', async () => {
    let fail = false
    const { app, counts } = await appWith((a, c) => {
      a.get('/c/agg', async (_r, reply) => {
        bump(c, 'agg')
        await new Promise((r) => setTimeout(r, 50))
        if (fail) return reply.code(500).send({ error: 'leader failed' })
        return { total: 42 }
      })
    })
    const rs = await Promise.all(Array.from({ length: 1000 }, () => app.inject('/c/agg')))
    assert.equal(counts.agg, 1)
    assert.ok(rs.every((r) => r.statusCode === 200 && r.json().total === 42))
    assert.equal(app.hotpath.cacheStats()['/c/agg']?.coalesced, 999)
    await app.hotpath.invalidate({ urls: ['/c/agg'] })
    fail = true
    counts.agg = 0
    const failing = await Promise.all(Array.from({ length: 5 }, () => app.inject('/c/agg')))
    assert.equal(counts.agg, 5, 'when the leader fails, waiters run the handler themselves')
    assert.ok(failing.every((r) => r.statusCode === 500))
  })
})

describe('response cache: freshness and invalidation', () => {
  it('stale-if-error serves the stale copy when the handler fails after expiry', async () => {
    let broken = false
    const { app } = await appWith((a) => {
      a.get('/s', { config: { hotpath: { cache: { ttl: 50, staleIfError: '1h' } } } }, async (_r, reply) => {
        if (broken) return reply.code(503).send({ error: 'down' })
        return { fresh: true }
      })
    })
    await app.inject('/s')
    await new Promise((r) => setTimeout(r, 70))
    broken = true
    const r = await app.inject('/s')
    assert.equal(r.statusCode, 200)
    assert.equal(r.headers['x-cache'], 'STALE')
    assert.deepEqual(r.json(), { fresh: true })
  })

  it('stale-while-revalidate answers stale at once and refreshes in the background', async () => {
    let version = 1
    const { app } = await appWith((a) => {
      a.get('/w', { config: { hotpath: { cache: { ttl: 50, staleWhileRevalidate: '1h' } } } }, async () => ({
        version,
      }))
    })
    await app.inject('/w')
    await new Promise((r) => setTimeout(r, 70))
    version = 2
    const stale = await app.inject('/w')
    assert.equal(stale.headers['x-cache'], 'STALE')
    assert.deepEqual(stale.json(), { version: 1 })
    const deadline = Date.now() + 2000
    let fresh = stale
    while (Date.now() < deadline) {
      fresh = await app.inject('/w')
      if (fresh.json().version === 2) break
      await new Promise((r) => setTimeout(r, 10))
    }
    assert.deepEqual(fresh.json(), { version: 2 })
  })

  it('invalidation by tag and URL reaches a second instance on the same Redis', async () => {
    const prefix = uniquePrefix('fastify-inv')
    const ca = createCache({ redis: { connection: REDIS_URL, timeout: '2s' }, prefix })
    const cb = createCache({ redis: { connection: REDIS_URL, timeout: '2s' }, prefix })
    let n = 0
    const routes = (a: FastifyInstance) => {
      a.get(
        '/p/:id',
        {
          config: {
            hotpath: { cache: { ttl: '1m', tags: (r) => [`product:${(r.params as { id: string }).id}`] } },
          },
        },
        async () => ({ n: ++n }),
      )
    }
    const { app: a } = await appWith(routes, {
      cache: ca,
      endpoints: { invalidateToken: 'a-long-secret-token-123' },
    })
    const { app: b } = await appWith(routes, { cache: cb })
    try {
      await a.inject('/p/1')
      assert.equal((await b.inject('/p/1')).headers['x-cache'], 'HIT', 'b reads what a stored (L2)')
      const denied = await a.inject({
        method: 'POST',
        url: '/api/cache/invalidate',
        payload: { tags: ['product:1'] },
      })
      assert.equal(denied.statusCode, 401)
      const ok = await a.inject({
        method: 'POST',
        url: '/api/cache/invalidate',
        headers: { authorization: 'Bearer a-long-secret-token-123' },
        payload: { tags: ['product:1'] },
      })
      assert.equal(ok.statusCode, 200)
      const deadline = Date.now() + 2000
      let r = await b.inject('/p/1')
      while (r.headers['x-cache'] === 'HIT' && Date.now() < deadline) {
        await new Promise((res) => setTimeout(res, 10))
        r = await b.inject('/p/1')
      }
      assert.equal(r.headers['x-cache'], 'MISS', 'b no longer serves the invalidated entry')
    } finally {
      await a.close()
      await b.close()
      await ca.close()
      await cb.close()
      await cleanupPrefix(prefix)
    }
  })
})
