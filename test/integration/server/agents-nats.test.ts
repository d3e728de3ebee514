/**
 * The reference server with NATS_URL: its agents talk over NATS JetStream (and NATS wins over
 * REDIS_URL for the bus). A quote is a request-reply through the stream; the stream is unique to
 * this test (NATS_STREAM) and deleted after.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { connect } from 'nats'
import { buildServer, type Server } from '../../../src/server/app.js'
import { loadConfig } from '../../../src/server/config.js'
import { cleanupNats, NATS_URL, REDIS_URL, uniqueStream } from '../../helpers/services.js'

describe('reference server: agents on NATS JetStream (NATS_URL)', () => {
  const stream = uniqueStream('gateway')
  let server: Server
  before(async () => {
    server = await buildServer(
      loadConfig({ BACKEND_LATENCY_MS: '0', NATS_URL, NATS_STREAM: stream, REDIS_URL }),
    )
    await server.agents.whenReady()
  })
  after(async () => {
    await server.close()
    await cleanupNats(stream)
  })

  /**
   * GET through the server, asked again while it sheds (503 with retry-after): a loaded CI machine
   * can stall the event loop past the server's 250 ms shedding threshold, which is not what this
   * test is about (a CI run on Node 24 read a 200 quote, then a body without a price).
   */
  const get = async (url: string) => {
    for (let i = 0; ; i++) {
      const r = await server.app.inject(url)
      if (r.statusCode !== 503 || i === 4) return r
      await new Promise((res) => setTimeout(res, 1000 * Number(r.headers['retry-after'] ?? 1)))
    }
  }

  it('the pricing agent answers a quote over JetStream; its consumers live on the NATS_STREAM stream', async () => {
    const q = await get('/api/agents/quote/5')
    assert.equal(q.statusCode, 200)
    const quote = q.json() as { id: number; price: number; discounted: boolean }
    assert.equal(quote.id, 5)
    const p = await get('/api/catalog/5')
    assert.equal(p.statusCode, 200, p.body)
    const product = p.json() as { price: number; stock: number }
    assert.equal(quote.price, quote.discounted ? Math.round(product.price * 90) / 100 : product.price)
    assert.equal((await get('/api/agents/quote/999')).statusCode, 404)
    const nc = await connect({ servers: NATS_URL })
    try {
      const jsm = await nc.jetstreamManager()
      const names: string[] = []
      for await (const ci of jsm.consumers.list(stream)) names.push(ci.name)
      assert.ok(names.includes('p0_pricing'), `consumers: ${names.join(', ')}`)
    } finally {
      await nc.close()
    }
  })

  it('NATS_URL and NATS_STREAM are checked like every variable', () => {
    assert.throws(() => loadConfig({ NATS_URL: 'http://x' }), /NATS_URL must be nats:\/\/ or tls:\/\//)
    assert.throws(() => loadConfig({ NATS_URL: NATS_URL, NATS_STREAM: 'a.b' }), /NATS_STREAM/)
    assert.equal(loadConfig({ NATS_URL: `${NATS_URL},nats://10.0.0.2:4222` }).natsStream, 'hotpath_gateway')
  })
})
