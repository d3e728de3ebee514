/**
 * The plugin's rate limits on a shared Redis (127.0.0.1:6379, own key prefix, cleaned up): the
 * global limit and each route's limit keep apart budgets for one client.
 */
import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import Fastify from 'fastify'
import hotpath from '../../../src/fastify/index.js'
import { redisScope } from '../../helpers/services.js'

const scope = redisScope()
const redis = scope.client()
const prefix = scope.prefix('fastify-rl')
after(() => scope.close())

describe('hotpath fastify rate limits on Redis', () => {
  it('regression: a route limit and the global limit shared one Redis bucket per client', async () => {
    // both are keyed by the client IP; the route's 2/min used up the global 100/min for the
    // client, whose other routes were then refused (429)
    const app = Fastify()
    after(() => app.close())
    await app.register(hotpath, { rateLimit: { limit: 100, window: '1m', redis, prefix } })
    app.post(
      '/login',
      { config: { hotpath: { rateLimit: { limit: 2, window: '1m', redis, prefix } } } },
      async () => ({ ok: true }),
    )
    app.get('/other', async () => ({ ok: true }))
    const codes: number[] = []
    for (let i = 0; i < 3; i++) codes.push((await app.inject({ method: 'POST', url: '/login' })).statusCode)
    assert.deepEqual(codes, [200, 200, 429])
    const r = await app.inject('/other')
    assert.equal(r.statusCode, 200)
    assert.match(String(r.headers.ratelimit), /^"global";r=99;/)
    // and the other way round: the global budget's use leaves the route's refusal as it was
    assert.equal((await app.inject({ method: 'POST', url: '/login' })).statusCode, 429)
  })
})
