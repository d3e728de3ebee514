import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { buildServer, type Server } from '../../../src/server/app.js'
import { loadConfig } from '../../../src/server/config.js'

describe('reference server', () => {
  let server: Server
  before(async () => {
    server = await buildServer(
      loadConfig({ BACKEND_LATENCY_MS: '5', INVALIDATE_TOKEN: 'test-token-0123456789' }),
    )
    await server.app.ready()
  })
  after(() => server.close())

  it('caches the catalogue (compressed) and answers conditional requests', async () => {
    const { app, catalog } = server
    const before = catalog.calls
    const first = await app.inject({ url: '/api/catalog', headers: { 'accept-encoding': 'br' } })
    assert.equal(first.statusCode, 200)
    assert.equal(first.headers['content-encoding'], 'br')
    const second = await app.inject({ url: '/api/catalog', headers: { 'accept-encoding': 'br' } })
    assert.equal(second.headers['x-cache'], 'HIT')
    assert.equal(catalog.calls - before, 1)
    const notModified = await app.inject({
      url: '/api/catalog',
      headers: { 'accept-encoding': 'br', 'if-none-match': String(second.headers.etag) },
    })
    assert.equal(notModified.statusCode, 304)
  })

  it('a write invalidates its product and the list, and no other product', async () => {
    const { app } = server
    const alice = { authorization: 'Bearer token-alice' }
    const p1 = await app.inject('/api/catalog/7')
    const price = p1.json().price as number
    await app.inject('/api/catalog/7')
    await app.inject('/api/catalog/8')
    assert.equal((await app.inject('/api/catalog/8')).headers['x-cache'], 'HIT')
    await app.inject('/api/catalog')
    assert.equal((await app.inject('/api/catalog')).headers['x-cache'], 'HIT')
    const w = await app.inject({
      method: 'POST',
      url: '/api/catalog/7',
      headers: alice,
      payload: { price: price + 1 },
    })
    assert.equal(w.statusCode, 200)
    const after = await app.inject('/api/catalog/7')
    assert.equal(after.headers['x-cache'], 'MISS')
    assert.equal(after.json().price, price + 1)
    const list = await app.inject('/api/catalog')
    assert.equal(list.headers['x-cache'], 'MISS', 'the list shows the product, so it is invalidated')
    assert.equal(list.json().find((p: { id: number }) => p.id === 7).price, price + 1)
    // regression: every write dropped the whole catalogue's cache (tag 'catalog')
    assert.equal((await app.inject('/api/catalog/8')).headers['x-cache'], 'HIT')
    const bad = await app.inject({
      method: 'POST',
      url: '/api/catalog/7',
      headers: alice,
      payload: { price: -1 },
    })
    assert.equal(bad.statusCode, 400)
  })

  it('a write without a known identity is refused with 401 and changes nothing', async () => {
    const { app } = server
    const before = (await app.inject('/api/catalog/9')).json().price as number
    for (const headers of [{}, { authorization: 'Bearer nobody' }, { authorization: 'Bearer __proto__' }]) {
      const w = await app.inject({ method: 'POST', url: '/api/catalog/9', headers, payload: { price: 1 } })
      assert.equal(w.statusCode, 401)
      assert.equal(w.headers['www-authenticate'], 'Bearer')
    }
    const cached = await app.inject('/api/catalog/9')
    assert.equal(cached.headers['x-cache'], 'HIT')
    assert.equal(cached.json().price, before)
  })

  it('whoami is cached per identity and refuses strangers', async () => {
    const { app } = server
    const alice = await app.inject({ url: '/api/whoami', headers: { authorization: 'Bearer token-alice' } })
    const bob = await app.inject({ url: '/api/whoami', headers: { authorization: 'Bearer token-bob' } })
    assert.equal(alice.json().user.name, 'Alice')
    assert.equal(bob.json().user.name, 'Bob')
    const alice2 = await app.inject({ url: '/api/whoami', headers: { authorization: 'Bearer token-alice' } })
    assert.equal(alice2.headers['x-cache'], 'HIT')
    assert.deepEqual(alice2.json(), alice.json())
    assert.equal((await app.inject('/api/whoami')).statusCode, 401)
  })

  it('whoami refuses tokens that name Object.prototype members (users were a plain object)', async () => {
    const { app } = server
    for (const token of ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf']) {
      const r = await app.inject({ url: '/api/whoami', headers: { authorization: `Bearer ${token}` } })
      assert.equal(r.statusCode, 401, `Bearer ${token} must not authenticate`)
      assert.equal(r.headers['www-authenticate'], 'Bearer')
    }
  })

  it('the aggregate coalesces concurrent callers into one backend call', async () => {
    const { app, catalog } = server
    const before = catalog.calls
    const rs = await Promise.all(Array.from({ length: 50 }, () => app.inject('/api/aggregate')))
    assert.ok(rs.every((r) => r.statusCode === 200))
    assert.equal(catalog.calls - before, 1)
  })

  it('the limited route answers 429 with headers after 5 calls', async () => {
    const { app } = server
    const codes: number[] = []
    for (let i = 0; i < 6; i++) codes.push((await app.inject('/api/limited')).statusCode)
    assert.deepEqual(codes, [200, 200, 200, 200, 200, 429])
  })

  it('exposes the operational endpoints', async () => {
    const { app } = server
    assert.equal((await app.inject('/health')).statusCode, 200)
    assert.match((await app.inject('/metrics')).body, /hotpath_cache_requests_total/)
    assert.ok((await app.inject('/api/cache/stats')).json().routes['/api/catalog'])
    const inv = await app.inject({
      method: 'POST',
      url: '/api/cache/invalidate',
      headers: { authorization: 'Bearer test-token-0123456789' },
      payload: { tags: ['catalog'] },
    })
    assert.equal(inv.statusCode, 200)
  })
})

describe('reference server with METRICS_TOKEN', () => {
  it('the read endpoints need the bearer token; the health probes stay open', async () => {
    const server = await buildServer(
      loadConfig({ BACKEND_LATENCY_MS: '5', METRICS_TOKEN: 'metrics-token-0123456789' }),
    )
    try {
      const { app } = server
      await app.ready()
      for (const url of ['/metrics', '/api/metrics', '/api/cache/stats']) {
        assert.equal((await app.inject(url)).statusCode, 401, `${url} without the token`)
        const wrong = await app.inject({ url, headers: { authorization: 'Bearer metrics-token-0123456780' } })
        assert.equal(wrong.statusCode, 401, `${url} with a wrong token`)
        const ok = await app.inject({ url, headers: { authorization: 'Bearer metrics-token-0123456789' } })
        assert.equal(ok.statusCode, 200, `${url} with the token`)
      }
      assert.equal((await app.inject('/health/live')).statusCode, 200)
      assert.equal((await app.inject('/health')).statusCode, 200)
    } finally {
      await server.close()
    }
  })
})
