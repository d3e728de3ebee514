/**
 * Regressions found by an audit of hotpath/ws, over real sockets on loopback. A client that
 * "stops reading" pauses its TCP socket; the server then fills the kernel's buffers with plain
 * frames until ws reports a non-zero `bufferedAmount`, so the batcher sees a slow client.
 */
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { after, before, describe, it } from 'node:test'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { WebSocket } from 'ws'
import { batched, broadcaster, resolveBatchedOptions, wsCounters } from '../../../src/ws/index.js'
import { connect, fillKernel, notFill, serve, stopReading, until } from './support.js'

let server: Awaited<ReturnType<typeof serve>>
before(async () => {
  server = await serve()
})
after(() => server.close())

const yieldTurn = () => new Promise<void>((r) => setImmediate(r))

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

  it('regression: a slow member of a group replaced its pending keyed message with the broadcast one instead of merge()-ing them', async () => {
    const c = await connect(server)
    const reader = stopReading(c.client)
    fillKernel(c.socket)
    const room = broadcaster<Record<string, unknown>>({
      name: 'audit-merge',
      window: 'turn',
      highWatermark: 1,
      lowWatermark: 0,
      maxBuffered: 1 << 30,
      maxStall: '1m',
      merge: (previous, next) => ({ ...previous, ...next }),
    })
    const member = room.add(c.socket)
    room.send({ a: 1 }, { key: 'k' })
    await yieldTurn()
    assert.equal(member.isPaused, true, 'the member is slow')
    room.send({ b: 2 }, { key: 'k' })
    await yieldTurn()
    reader.resume()
    await until(() => notFill(c.received).length > 0, 10_000, 'the keyed message')
    await new Promise((r) => setTimeout(r, 50))
    assert.deepEqual(notFill(c.received), [{ a: 1, b: 2 }])
    room.close()
    c.client.close()
  })

  it('regression: a flush that paused after writing a frame dropped its volatile messages again (pending < 0, dropped over-counted, queue bytes negative)', async () => {
    const c = await connect(server)
    const reader = stopReading(c.client)
    fillKernel(c.socket)
    const name = 'audit-volatile-twice'
    const room = broadcaster({
      name,
      window: 'turn',
      maxBatch: 2,
      batchRange: [1, 50],
      // the first frame below (own message + v1, ~4 KB) takes the buffer over the watermark
      highWatermark: c.socket.bufferedAmount + 1000,
      lowWatermark: 0,
      maxBuffered: 1 << 30,
      maxStall: '1m',
    })
    const member = room.add(c.socket)
    const pad = 'v'.repeat(2000)
    member.send({ own: 1 })
    room.send({ v: 1, pad }, { volatile: true })
    room.send({ v: 2, pad }, { volatile: true }) // the group's batch of 2 reaches the member now
    assert.equal(member.isPaused, true)
    const s = member.stats()
    assert.equal(s.pending, 0, 'own and v1 were written, v2 was dropped')
    assert.equal(s.bufferedBytes, c.socket.bufferedAmount, 'nothing left in the queue')
    assert.equal(wsCounters(undefined, name).stats().dropped, 1, 'only v2 was dropped')
    reader.resume()
    await until(() => notFill(c.received).length >= 2, 10_000, 'the written frame')
    await new Promise((r) => setTimeout(r, 50))
    assert.deepEqual(
      notFill(c.received).map((m) => (m as { v?: number }).v ?? m),
      [{ own: 1 }, 1],
    )
    room.close()
    c.client.close()
  })

  it('regression: a stalled client sent tiny messages held ~50 times maxBuffered in heap (the cap counted only encoded bytes)', async () => {
    setFlagsFromString('--expose-gc')
    const gc = runInNewContext('gc') as () => void
    const c = await connect(server)
    stopReading(c.client)
    fillKernel(c.socket, 2048)
    const maxBuffered = 1024 * 1024
    const b = batched(c.socket, {
      name: 'audit-tiny',
      window: 'turn',
      highWatermark: 1024,
      lowWatermark: 0,
      maxBuffered,
    })
    gc()
    const heapBefore = process.memoryUsage().heapUsed
    let grown = 0
    let sent = 0
    while (sent < 2_000_000) {
      let open = true
      for (let i = 0; i < 10_000 && open; i++, sent++) open = b.send(i & 1)
      if (!open) break
      gc()
      grown = Math.max(grown, process.memoryUsage().heapUsed - heapBefore)
    }
    assert.ok(
      grown <= 2 * maxBuffered,
      `the queue of a stalled client grew the heap by ${(grown / 1e6).toFixed(1)} MB under maxBuffered ${maxBuffered}`,
    )
    assert.equal(b.send(0), false, 'closed for backpressure')
    assert.equal(wsCounters(undefined, 'audit-tiny').stats().closedForBackpressure, 1)
    c.client.terminate()
  })
})

describe('hotpath/ws: a client socket still connecting', () => {
  it('regression: a batcher on a client socket still connecting closed itself at its first flush, dropping what was sent; it waits for the connection and then writes', async () => {
    const accepted = once(server.wss, 'connection') as Promise<[WebSocket]>
    const client = new WebSocket(server.url, { perMessageDeflate: false })
    const b = batched(client, { name: 'audit-connecting', window: 'turn' })
    assert.equal(b.send({ n: 1 }), true)
    assert.equal(b.send({ n: 2 }), true)
    await yieldTurn() // the end of the turn: the batcher's first flush, before the handshake ends
    const [socket] = await accepted
    const received: unknown[] = []
    socket.on('message', (data) => received.push(...(JSON.parse(String(data)) as unknown[])))
    await until(() => received.length === 2, 5000, 'the two messages')
    assert.deepEqual(received, [{ n: 1 }, { n: 2 }])
    assert.equal(b.send({ n: 3 }), true, 'the batcher is still open')
    await until(() => received.length === 3, 5000, 'the third message')
    client.close()
  })

  it('a batcher on a client socket whose connection fails closes and refuses sends', async () => {
    const client = new WebSocket('ws://127.0.0.1:1', { perMessageDeflate: false })
    client.on('error', () => {})
    const closed = new Promise<void>((resolve) => client.on('close', () => resolve()))
    const b = batched(client, { name: 'audit-connect-fails', window: 'turn' })
    assert.equal(b.send({ n: 1 }), true)
    await closed
    await until(() => !b.send({ n: 2 }), 2000, 'sends refused')
    assert.equal(wsCounters(undefined, 'audit-connect-fails').stats().connections, 0)
  })
})
