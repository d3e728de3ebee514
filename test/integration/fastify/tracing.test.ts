import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import Fastify, { type FastifyInstance } from 'fastify'
import hotpath, { tracingChannels } from '../../../src/fastify/index.js'
import { record } from '../../helpers/trace-recorder.js'

const apps: FastifyInstance[] = []
after(async () => {
  for (const a of apps) await a.close()
})

describe('response cache tracing channel', () => {
  it('hotpath:fastify.responseCache traces each lookup with what it decided', async () => {
    const app = Fastify()
    apps.push(app)
    await app.register(hotpath, { responseCache: { routes: { '/c/*': '1m' } } })
    let runs = 0
    app.get('/c/data', async () => {
      runs++
      await new Promise((r) => setTimeout(r, 20))
      return { runs }
    })
    app.get('/plain', async () => 'not cached')
    await app.ready()
    const r = record(tracingChannels.responseCache)
    try {
      await app.inject('/c/data?x=1') // miss: leads
      await app.inject('/c/data?x=1') // hit
      await app.inject({ url: '/c/data?x=1', headers: { authorization: 'Bearer a' } }) // bypass
      // identical concurrent misses: one leads, the others are coalesced
      await Promise.all([app.inject('/c/data?x=2'), app.inject('/c/data?x=2'), app.inject('/c/data?x=2')])
      await app.inject('/plain') // not a cached route: no trace
      const settled = r.settled()
      assert.deepEqual(
        settled.slice(0, 3).map((c) => [c.method, c.url, c.route, c.outcome]),
        [
          ['GET', '/c/data?x=1', '/c/data', 'miss'],
          ['GET', '/c/data?x=1', '/c/data', 'hit'],
          ['GET', '/c/data?x=1', '/c/data', 'bypass'],
        ],
      )
      assert.deepEqual(
        settled
          .slice(3)
          .map((c) => c.outcome)
          .sort(),
        ['coalesced', 'coalesced', 'miss'],
      )
      assert.equal(settled.length, 6)
      assert.equal(runs, 3)
    } finally {
      r.stop()
    }
    // without a subscriber the lookup is not traced and still answers
    const hit = await app.inject('/c/data?x=1')
    assert.equal(hit.headers['x-cache'], 'HIT')
    assert.equal(r.events.filter((e) => e.event === 'start').length, 6)
  })
})
