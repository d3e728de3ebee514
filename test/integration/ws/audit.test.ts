/**
 * Regressions found by an audit of hotpath/ws, over real sockets on loopback. A client that
 * "stops reading" pauses its TCP socket; the server then fills the kernel's buffers with plain
 * frames until ws reports a non-zero `bufferedAmount`, so the batcher sees a slow client.
 */
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { after, before, describe, it } from 'node:test'
import { batched, broadcaster, resolveBatchedOptions, wsCounters } from '../../../src/ws/index.js'
import { connect, serve } from './support.js'

let server: Awaited<ReturnType<typeof serve>>
before(async () => {
  server = await serve()
})
after(() => server.close())

describe('hotpath/ws audit', () => {
  it('regression: a batcher made on a socket that had already closed stayed counted open, and a group kept it as a member forever', async () => {
    const c = await connect(server)
    c.client.close()
    await once(c.socket, 'close')
    const name = 'audit-closed-first'
    const b = batched(c.socket, { name, window: 'turn' })
    assert.equal(wsCounters(undefined, name).stats().connections, 0, 'the connections gauge counts it')
    assert.equal(b.send({ late: true }), false, 'a batcher of a closed socket refuses sends')
    const room = broadcaster({ name: 'audit-closed-first-room', window: 'turn' })
    room.add(c.socket)
    assert.equal(room.size, 0, 'a closed socket never leaves the group: its close event is gone')
    assert.equal(wsCounters(undefined, 'audit-closed-first-room').stats().connections, 0)
    room.close()
  })

  it('regression: each add()/remove() of a member left a close listener on its socket, holding the group', async () => {
    const c = await connect(server)
    const options = resolveBatchedOptions({ name: 'audit-readd', window: 'turn' })
    const member = batched(c.socket, options)
    const room = broadcaster(options)
    const listeners = c.socket.listenerCount('close')
    for (let i = 0; i < 20; i++) {
      room.add(member)
      room.remove(member)
    }
    assert.equal(c.socket.listenerCount('close'), listeners, 'listeners left by add/remove')
    room.add(member)
    room.close()
    assert.equal(c.socket.listenerCount('close'), listeners, 'listeners left by close()')
    // a member still leaves its group when its socket closes
    const other = broadcaster(options)
    other.add(member)
    assert.equal(other.size, 1)
    c.client.close()
    await once(c.socket, 'close')
    assert.equal(other.size, 0)
    other.close()
  })
})
