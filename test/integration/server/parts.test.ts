/**
 * The reference server with every part wired in: the catalogue on hotpath/db (seeded PGlite), the
 * agents on hotpath/bus, live updates over hotpath/ws, the dashboard. Over real sockets where the
 * wire matters (the WebSocket).
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import WebSocket from 'ws'
import { buildServer, type Server } from '../../../src/server/app.js'
import { loadConfig } from '../../../src/server/config.js'
import { decodeFrame } from '../../../src/ws/index.js'

const alice = { authorization: 'Bearer token-alice' }

async function until(check: () => boolean | Promise<boolean>, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

describe('reference server: every part wired in', () => {
  let server: Server
  let base: string
  before(async () => {
    server = await buildServer(loadConfig({ BACKEND_LATENCY_MS: '0' }))
    base = await server.app.listen({ port: 0, host: '127.0.0.1' })
  })
  after(() => server.close())

  it('serves the catalogue from the seeded PGlite database, cached, with a database call per miss only', async () => {
    const { app, catalog } = server
    assert.equal(catalog.db.backend, 'pglite')
    const before = catalog.calls
    const list = await app.inject('/api/catalog')
    assert.equal(list.statusCode, 200)
    const products = list.json() as Array<{ id: number; price: number; category: string }>
    assert.equal(products.length, 200)
    assert.deepEqual(Object.keys(products[0] ?? {}).sort(), [
      'category',
      'description',
      'id',
      'name',
      'price',
      'stock',
    ])
    assert.equal(typeof products[0]?.price, 'number')
    await app.inject('/api/catalog')
    assert.equal(catalog.calls - before, 1, 'the second read is a response-cache hit')
    const one = await app.inject('/api/catalog/42')
    assert.equal(one.json().id, 42)
    assert.equal((await app.inject('/api/catalog/999')).statusCode, 404)
  })

  it('the pricing agent answers quotes over the bus (request-reply); an unknown product is a 404', async () => {
    const { app } = server
    const q = await app.inject('/api/agents/quote/5')
    assert.equal(q.statusCode, 200)
    const quote = q.json() as { id: number; price: number; discounted: boolean }
    assert.equal(quote.id, 5)
    const product = (await app.inject('/api/catalog/5')).json() as { price: number; stock: number }
    assert.equal(quote.discounted, product.stock > 100)
    assert.equal(quote.price, quote.discounted ? Math.round(product.price * 90) / 100 : product.price)
    assert.equal((await app.inject('/api/agents/quote/999')).statusCode, 404)
  })

  it('a restock task goes through the inventory agent: the write reaches the cached responses and the /live socket', async () => {
    const { app } = server
    const frames: unknown[] = []
    const socket = new WebSocket(`${base.replace('http', 'ws')}/live`)
    socket.on('message', (data, isBinary) => {
      frames.push(...decodeFrame(data as Buffer, {}, isBinary))
    })
    await new Promise((resolve, reject) => {
      socket.once('open', resolve)
      socket.once('error', reject)
    })
    try {
      const stock = ((await app.inject('/api/catalog/7')).json() as { stock: number }).stock
      assert.equal((await app.inject('/api/catalog/7')).headers['x-cache'], 'HIT')
      const refused = await app.inject({
        method: 'POST',
        url: '/api/agents/restock',
        payload: { id: 7, amount: 5 },
      })
      assert.equal(refused.statusCode, 401, 'a write needs an identity')
      const bad = await app.inject({
        method: 'POST',
        url: '/api/agents/restock',
        headers: alice,
        payload: { id: 7, amount: 5, priority: 'asap' },
      })
      assert.equal(bad.statusCode, 400)
      const queued = await app.inject({
        method: 'POST',
        url: '/api/agents/restock',
        headers: alice,
        payload: { id: 7, amount: 5, priority: 'high' },
      })
      assert.equal(queued.statusCode, 202)
      assert.equal(queued.json().priority, 'high')
      await until(() => frames.some((f) => (f as { id?: number }).id === 7), 'the update on the /live socket')
      assert.equal(
        (frames.find((f) => (f as { id?: number }).id === 7) as { stock: number }).stock,
        stock + 5,
      )
      await until(
        async () => ((await app.inject('/api/catalog/7')).json() as { stock: number }).stock === stock + 5,
        'the cached product response to show the new stock',
      )
      const agents = (await app.inject('/api/agents')).json() as Record<string, { handled: number }>
      assert.ok((agents.inventory?.handled ?? 0) >= 1)
      assert.ok((agents.pricing?.handled ?? 0) >= 1)
    } finally {
      socket.close()
    }
  })

  it('serves its own database workload and the index advisor report on it', async () => {
    const { app } = server
    await app.inject('/api/catalog/3')
    const workload = (await app.inject('/api/db/workload')).json() as Array<{ text: string; calls: number }>
    assert.ok(
      workload.some((w) => /FROM products WHERE id = ANY/.test(w.text)),
      JSON.stringify(workload),
    )
    const advice = await app.inject('/api/db/advice')
    assert.equal(advice.statusCode, 200)
    const report = advice.json() as { method: string; statementsAnalyzed: number; suggestions: unknown[] }
    assert.equal(report.method, 'rollback', 'PGlite has no HypoPG: a real index built and rolled back')
    // 200 products: every statement costs less than the advisor's floor, so no index is worth it
    assert.equal(typeof report.statementsAnalyzed, 'number')
    assert.deepEqual(report.suggestions, [])
  })

  it('serves the dashboard (public without METRICS_TOKEN) with the database, bus and live panels', async () => {
    const { app } = server
    const page = await app.inject('/dashboard')
    assert.equal(page.statusCode, 200)
    assert.match(String(page.headers['content-type']), /text\/html/)
    const state = await app.inject('/dashboard/state')
    assert.equal(state.statusCode, 200)
    assert.match(state.body, /"db"/)
    assert.match(state.body, /"bus"/)
    assert.match(state.body, /"live"/)
  })
})

describe('reference server dashboard with METRICS_TOKEN', () => {
  it('needs the token', async () => {
    const server = await buildServer(
      loadConfig({ BACKEND_LATENCY_MS: '0', METRICS_TOKEN: 'metrics-token-0123456789' }),
    )
    try {
      assert.equal((await server.app.inject('/dashboard')).statusCode, 401)
      assert.equal((await server.app.inject('/api/db/advice')).statusCode, 401)
      const ok = await server.app.inject({
        url: '/dashboard/state',
        headers: { authorization: 'Bearer metrics-token-0123456789' },
      })
      assert.equal(ok.statusCode, 200)
    } finally {
      await server.close()
    }
  })
})
