import assert from 'node:assert/strict'
import { afterEach, describe, it } from 'node:test'
import { Redis } from 'ioredis'
import { freePort, PrivateRedis } from '../../helpers/services.js'
import { startChild, waitForOutput } from './child-server.js'
import { connect, destroyAll, get, response, until } from './sockets.js'

describe('reference server: SIGTERM with keep-alive clients', () => {
  afterEach(destroyAll)

  // Regression: every in-flight request completed, but the keep-alive sockets stayed open, so the
  // process waited for the 10 s force timer and exited 1 without closing the cache, the monitor or
  // Redis. The keep-alive timeout here (60 s) is far beyond the force timer (20 s): only closing
  // idle sockets lets the process exit 0.
  it('completes the in-flight request, closes idle keep-alive sockets, closes everything, exits 0', async () => {
    const port = await freePort()
    const server = startChild({
      PORT: String(port),
      BACKEND_LATENCY_MS: '1',
      KEEP_ALIVE_TIMEOUT: '60',
      SHUTDOWN_TIMEOUT: '20',
    })
    try {
      await server.listening
      const idle = [connect(port), connect(port), connect(port)]
      for (const c of idle) await get(c)
      // an in-flight request whose body we hold back until the shutdown has begun; the server's
      // `100 Continue` tells us it has read the headers and dispatched the request
      const slow = connect(port)
      await slow.connected
      const body = JSON.stringify({ stock: 7 })
      slow.socket.write(
        'POST /api/catalog/3 HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer token-alice\r\n' +
          `Content-Type: application/json\r\nContent-Length: ${body.length}\r\nExpect: 100-continue\r\n\r\n`,
      )
      assert.ok(await until(() => slow.state.data.includes('100 Continue')), 'request dispatched')
      slow.socket.write(body.slice(0, 3))
      server.child.kill('SIGTERM')
      await waitForOutput(server, (out) => out.includes('SIGTERM'))

      // the idle keep-alive sockets are closed while the slow request is still open
      assert.ok(await until(() => idle.every((c) => c.state.closed)), 'idle keep-alive sockets closed')
      assert.equal(slow.state.closed, false)

      const start = slow.state.data.indexOf('\r\n\r\n') + 4
      slow.socket.write(body.slice(3))
      const answer = await response(slow, start)
      assert.match(answer, /^HTTP\/1\.1 200/, `the in-flight request completes: ${answer}`)
      assert.match(answer, /"stock":7/)
      assert.ok(await until(() => slow.state.closed), 'its keep-alive socket is closed once idle')

      const code = await server.exited
      assert.equal(code, 0, `exit code; stdout: ${server.stdout()} stderr: ${server.stderr()}`)
      const out = server.stdout()
      assert.doesNotMatch(out + server.stderr(), /force/i, 'the force timer did not fire')
      const order = ['http server closed', 'cache closed', 'monitor closed'].map((s) => out.indexOf(s))
      assert.ok(
        order.every((i, n) => i >= 0 && (n === 0 || i > (order[n - 1] as number))),
        `closed in order: ${out}`,
      )
    } finally {
      if (server.child.exitCode === null) server.child.kill('SIGKILL')
      await server.exited
    }
  })

  it('with Redis: the last L2 writes reach Redis, then Redis is closed, exit 0', async () => {
    const redis = await PrivateRedis.start()
    const port = await freePort()
    const server = startChild({ PORT: String(port), BACKEND_LATENCY_MS: '1', REDIS_URL: redis.url })
    const probe = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 })
    probe.on('error', () => {})
    try {
      await server.listening
      const c = connect(port)
      await get(c, '/api/catalog/5')
      server.child.kill('SIGTERM')
      const code = await server.exited
      assert.equal(code, 0, `exit code; stdout: ${server.stdout()} stderr: ${server.stderr()}`)
      const out = server.stdout()
      assert.ok(out.indexOf('redis closed') > out.indexOf('monitor closed'), out)
      await probe.connect()
      const keys = await probe.keys('*')
      assert.ok(keys.length > 0, 'the cached response was written to Redis before it was closed')
    } finally {
      probe.disconnect()
      if (server.child.exitCode === null) server.child.kill('SIGKILL')
      await server.exited
      await redis.stop()
    }
  })

  // Regression: the agents' buses were closed one after another, each draining its queue for up
  // to 10 s, so a few thousand queued restocks held the close past SHUTDOWN_TIMEOUT and the force
  // timer exited 1 without closing the cache or the monitor. Here 120 restocks at ~300 ms each,
  // four at a time, are ~9 s of work against a 3 s SHUTDOWN_TIMEOUT.
  it('queued agent messages beyond SHUTDOWN_TIMEOUT: the drain stops in time, says what it left, exit 0', async () => {
    const port = await freePort()
    const server = startChild({ PORT: String(port), BACKEND_LATENCY_MS: '300', SHUTDOWN_TIMEOUT: '3' })
    try {
      const base = await server.listening
      const queued = await Promise.all(
        Array.from({ length: 120 }, (_, i) =>
          fetch(`${base}/api/agents/restock`, {
            method: 'POST',
            headers: { authorization: 'Bearer token-alice', 'content-type': 'application/json' },
            body: JSON.stringify({ id: 1 + (i % 50), amount: 1 }),
          }).then((r) => r.status),
        ),
      )
      assert.deepEqual(new Set(queued), new Set([202]))
      server.child.kill('SIGTERM')
      const code = await server.exited
      const out = server.stdout()
      assert.equal(code, 0, `exit code; stdout: ${out} stderr: ${server.stderr()}`)
      assert.doesNotMatch(out + server.stderr(), /force/i, 'the force timer did not fire')
      const left = /agents: (\d+) queued messages not handled within SHUTDOWN_TIMEOUT and lost/.exec(out)
      assert.ok(left !== null, `the close says what the drain left: ${out}`)
      const n = Number(left[1])
      assert.ok(n > 0 && n < 120, `${n} of 120 left: some were handled while draining`)
      for (const step of ['agents and database closed', 'cache closed', 'monitor closed'])
        assert.ok(out.includes(step), `${step}: ${out}`)
    } finally {
      if (server.child.exitCode === null) server.child.kill('SIGKILL')
      await server.exited
    }
  })
})
