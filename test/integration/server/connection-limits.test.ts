import assert from 'node:assert/strict'
import type net from 'node:net'
import { after, afterEach, before, describe, it } from 'node:test'
import { buildServer, type Server } from '../../../src/server/app.js'
import { loadConfig } from '../../../src/server/config.js'
import { connect, destroyAll, get, tick } from './sockets.js'

describe('reference server: connection limits over real sockets', () => {
  let server: Server
  let port: number
  before(async () => {
    server = await buildServer(
      loadConfig({
        BACKEND_LATENCY_MS: '1',
        REQUEST_TIMEOUT: '1',
        CONNECTION_TIMEOUT: '5',
        MAX_CONNECTIONS: '2',
      }),
    )
    await server.app.listen({ port: 0, host: '127.0.0.1' })
    port = (server.app.server.address() as net.AddressInfo).port
  })
  afterEach(destroyAll)
  after(() => server.close())

  it('applies the configured limits to the HTTP server', () => {
    const s = server.app.server
    assert.equal(s.requestTimeout, 1000)
    assert.equal(s.timeout, 5000)
    assert.equal(s.keepAliveTimeout, 72_000)
    assert.equal(s.maxConnections, 2)
    assert.ok(s.headersTimeout <= s.requestTimeout)
  })

  it('cuts a client that trickles its body (requestTimeout was 0: such connections stayed open forever)', async () => {
    const c = connect(port)
    await c.connected
    const length = 200
    c.socket.write(
      'POST /api/catalog/1 HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer token-alice\r\n' +
        `Content-Type: application/json\r\nContent-Length: ${length}\r\n\r\n{`,
    )
    // one byte every 50 ms: the whole body would take 10 s, ten times the 1 s request deadline
    let sent = 1
    while (!c.state.closed && sent < length - 1) {
      await tick(50)
      if (!c.state.closed && c.socket.writable) c.socket.write(' ')
      sent++
    }
    await Promise.race([c.closed, tick(2000)])
    assert.ok(c.state.closed, 'the trickling connection is closed by the server')
    assert.ok(sent < length - 1, `cut before the body was complete (sent ${sent} of ${length} bytes)`)
    assert.match(c.state.data, /^HTTP\/1\.1 408/)
  })

  it('refuses a connection beyond MAX_CONNECTIONS, and accepts again when one closes', async () => {
    let drops = 0
    const onDrop = () => {
      drops++
    }
    server.app.server.on('drop', onDrop)
    try {
      const a = connect(port)
      const b = connect(port)
      await get(a)
      await get(b)
      const extra = connect(port)
      await Promise.race([extra.closed, tick(5000)])
      assert.ok(extra.state.closed, 'the third connection is closed by the server')
      assert.equal(extra.state.data, '', 'and never answered')
      assert.equal(drops, 1)
      // the two within the cap still work
      await get(a)
      a.socket.destroy()
      await a.closed
      for (let i = 0; i < 200; i++) {
        const count = await new Promise<number>((r) => server.app.server.getConnections((_, n) => r(n)))
        if (count < 2) break
        await tick(10)
      }
      const c = connect(port)
      await get(c)
      b.socket.destroy()
      c.socket.destroy()
    } finally {
      server.app.server.off('drop', onDrop)
    }
  })
})
