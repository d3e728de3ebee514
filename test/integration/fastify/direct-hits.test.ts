/**
 * Issue 10 item 11: a fresh hit is written straight to Node's response (response-cache/direct.ts)
 * where nothing is skipped by it. Over real sockets: what another hook set, another hook's onSend,
 * onResponse hooks, a header Node refuses, HTTP/2 and the encoded variants.
 */
import assert from 'node:assert/strict'
import http2 from 'node:http2'
import { after, describe, it } from 'node:test'
import Fastify, { type FastifyInstance } from 'fastify'
import hotpath from '../../../src/fastify/index.js'
import { DirectHits } from '../../../src/fastify/response-cache/index.js'
import { httpGet as get } from '../../helpers/http-test.js'

const apps: FastifyInstance[] = []
after(async () => {
  for (const a of apps) await a.close()
})

const BODY = JSON.stringify({ items: Array.from({ length: 40 }, (_, i) => ({ id: i, name: `item ${i}` })) })

async function listen(
  setup: (app: FastifyInstance) => void,
): Promise<{ app: FastifyInstance; port: number }> {
  const app = Fastify()
  apps.push(app)
  await app.register(hotpath, { responseCache: { routes: { '/c': '1m' } } })
  setup(app)
  app.get('/c', async (_req, reply) => reply.type('application/json; charset=utf-8').send(BODY))
  await app.listen({ port: 0, host: '127.0.0.1' })
  return { app, port: (app.server.address() as { port: number }).port }
}

describe('direct hits (issue 10 item 11)', () => {
  it("is taken on an HTTP/1 route whose only onSend hook is the plugin's, and nowhere else", async () => {
    const probe = async (setup: (app: FastifyInstance) => void): Promise<boolean> => {
      const app = Fastify()
      apps.push(app)
      await app.register(hotpath, {})
      setup(app)
      app.get('/probe', async (request, reply) => ({ direct: new DirectHits().permits(request, reply) }))
      await app.ready()
      return (await app.inject('/probe')).json().direct
    }
    assert.equal(await probe(() => {}), true)
    assert.equal(
      await probe((app) => app.addHook('onSend', async (_q, _r, p) => p)),
      false,
      'an app onSend hook',
    )
    // HTTP/2: in the HTTP/2 test below (inject's response is an HTTP/1 one)
  })

  it('a direct hit carries the same headers and body as the miss, plus Age and X-Cache: HIT', async () => {
    const { port } = await listen(() => {})
    const miss = await get(port, '/c')
    const hit = await get(port, '/c')
    assert.equal(miss.headers['x-cache'], 'MISS')
    assert.equal(hit.headers['x-cache'], 'HIT')
    assert.equal(hit.status, 200)
    assert.equal(hit.body.toString(), BODY)
    assert.equal(hit.headers['content-length'], String(Buffer.byteLength(BODY)))
    assert.equal(hit.headers['content-type'], 'application/json; charset=utf-8')
    assert.equal(hit.headers.etag, miss.headers.etag)
    assert.equal(hit.headers.vary, 'accept-encoding')
    assert.equal(hit.headers.age, '0')
    for (const [enc, suffix] of [
      ['br', '-br'],
      ['gzip', '-gz'],
    ] as const) {
      const e = await get(port, '/c', { 'accept-encoding': enc })
      assert.equal(e.headers['content-encoding'], enc)
      assert.equal(e.headers.etag, `${String(miss.headers.etag).slice(0, -1)}${suffix}"`)
      assert.equal(
        e.headers['content-length'],
        String(e.body.length),
        'the encoded length, not the identity one',
      )
    }
  })

  it('headers an earlier hook set on the reply are sent with the hit; a stored header wins a clash', async () => {
    let n = 0
    const { port } = await listen((app) => {
      app.addHook('onRequest', (_req, reply, done) => {
        // only after the miss, so the stored response does not carry them
        if (++n > 1) {
          reply.header('x-request-no', String(n))
          reply.header('content-type', 'text/plain')
          reply.header('x-multi', ['a', 'b'])
        }
        done()
      })
    })
    await get(port, '/c')
    const hit = await get(port, '/c')
    assert.equal(hit.headers['x-cache'], 'HIT')
    assert.equal(hit.headers['x-request-no'], '2')
    assert.equal(hit.headers['content-type'], 'application/json; charset=utf-8')
    assert.equal(hit.headers['x-multi'], 'a, b')
  })

  it("an app's onSend hook still sees every hit (the hit goes through reply.send)", async () => {
    const seen: unknown[] = []
    const { port } = await listen((app) => {
      app.addHook('onSend', (req, reply, payload, done) => {
        seen.push(req.hotpath?.outcome)
        reply.header('x-on-send', 'yes')
        done(null, payload)
      })
    })
    await get(port, '/c')
    const hit = await get(port, '/c')
    assert.equal(hit.headers['x-cache'], 'HIT')
    assert.equal(hit.headers['x-on-send'], 'yes')
    assert.deepEqual(seen, ['handler', 'hit'])
  })

  it('onResponse hooks run for direct hits, with the status and the outcome', async () => {
    const seen: [unknown, number][] = []
    const { port } = await listen((app) => {
      app.addHook('onResponse', (req, reply, done) => {
        seen.push([req.hotpath?.outcome, reply.statusCode])
        done()
      })
    })
    await get(port, '/c')
    await get(port, '/c')
    await get(port, '/c')
    assert.deepEqual(seen, [
      ['handler', 200],
      ['hit', 200],
      ['hit', 200],
    ])
  })

  it('a header Node refuses, set by another hook, gets the same 500 as through reply.send; the server goes on', async () => {
    const { port } = await listen((app) => {
      app.addHook('onRequest', (req, reply, done) => {
        if (req.headers['x-bad'] !== undefined) reply.header('x-broken', 'a\nb')
        done()
      })
    })
    await get(port, '/c')
    const bad = await get(port, '/c', { 'x-bad': '1' })
    assert.equal(bad.status, 500)
    assert.equal(bad.headers['x-broken'], undefined)
    const next = await get(port, '/c')
    assert.equal(next.status, 200)
    assert.equal(next.headers['x-cache'], 'HIT')
  })

  it('over HTTP/2 a hit goes through reply.send and is answered as before', async () => {
    const app = Fastify({ http2: true })
    apps.push(app as unknown as FastifyInstance)
    await app.register(hotpath, { responseCache: { routes: { '/c': '1m' } } })
    app.get('/c', async (_req, reply) => reply.type('application/json; charset=utf-8').send(BODY))
    app.get('/probe', async (request, reply) => ({
      direct: new DirectHits().permits(request as never, reply as never),
    }))
    await app.listen({ port: 0, host: '127.0.0.1' })
    const port = (app.server.address() as { port: number }).port
    const client = http2.connect(`http://127.0.0.1:${port}`)
    try {
      const one = (path = '/c') =>
        new Promise<{ headers: http2.IncomingHttpHeaders; body: string }>((resolve, reject) => {
          const s = client.request({ ':path': path })
          let headers: http2.IncomingHttpHeaders = {}
          let body = ''
          s.on('response', (h) => {
            headers = h
          })
          s.setEncoding('utf8')
          s.on('data', (d: string) => {
            body += d
          })
          s.on('end', () => resolve({ headers, body }))
          s.on('error', reject)
        })
      assert.equal((await one()).headers['x-cache'], 'MISS')
      const hit = await one()
      assert.equal(hit.headers['x-cache'], 'HIT')
      assert.equal(hit.headers[':status'], 200)
      assert.equal(hit.body, BODY)
      assert.deepEqual(JSON.parse((await one('/probe')).body), { direct: false })
    } finally {
      client.close()
    }
  })
})

describe('a header Node refuses, set by a hook, is a 500 and the process goes on', () => {
  // regression: where the plugin's hooks went on from a promise callback (compression, storing a
  // miss, a rate limit), Node's refusal at writeHead became an unhandled rejection and the
  // process ended; plain Fastify answers 500
  async function badHeaderApp(options: object): Promise<number> {
    const app = Fastify()
    apps.push(app)
    await app.register(hotpath, options)
    app.addHook('onRequest', (req, reply, done) => {
      if (req.headers['x-bad'] !== undefined) reply.header('x-broken', 'a\nb')
      done()
    })
    app.get('/plain', async (_req, reply) => reply.type('application/json').send(BODY))
    app.get('/c', async (_req, reply) => reply.type('application/json').send(BODY))
    await app.listen({ port: 0, host: '127.0.0.1' })
    return (app.server.address() as { port: number }).port
  }

  for (const [name, options, path, first] of [
    ['an uncached route with compression', {}, '/plain', 'fresh'],
    ['the miss of a cached route', { responseCache: { routes: { '/c': '1m' } } }, '/c', 'fresh'],
    ['the hit of a cached route', { responseCache: { routes: { '/c': '1m' } } }, '/c', 'warm'],
    ['a rate-limited route', { rateLimit: { limit: 100, window: '1m' } }, '/plain', 'fresh'],
  ] as const) {
    it(name, async () => {
      const port = await badHeaderApp(options)
      if (first === 'warm') assert.equal((await get(port, path)).status, 200)
      const bad = await get(port, path, { 'x-bad': '1', 'accept-encoding': 'gzip' })
      assert.equal(bad.status, 500)
      assert.equal(bad.headers['x-broken'], undefined)
      const next = await get(port, path)
      assert.equal(next.status, 200)
      assert.equal(next.body.toString(), BODY)
    })
  }
})
