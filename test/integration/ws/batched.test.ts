import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { unpack } from 'msgpackr'
import { batched, broadcaster, CLOSE_OVER_CAP, CLOSE_STALLED, wsCounters } from '../../../src/ws/index.js'
import { connect, serve, until } from './support.js'

let server: Awaited<ReturnType<typeof serve>>
before(async () => {
  server = await serve()
})
after(() => server.close())

const yieldTurn = () => new Promise<void>((r) => setImmediate(r))

describe('hotpath/ws over real sockets on loopback', () => {
  it('batches a turn into frames, in order', async () => {
    const c = await connect(server)
    const b = batched(c.socket, { name: 'it-order' })
    for (let t = 0; t < 20; t++) {
      for (let i = 0; i < 50; i++) b.send({ n: t * 50 + i })
      await yieldTurn()
    }
    await until(() => c.received.length === 1000, 10_000, '1000 messages')
    assert.deepEqual(
      c.received.map((m) => (m as { n: number }).n),
      Array.from({ length: 1000 }, (_, i) => i),
    )
    assert.ok(c.frames.length <= 200, `${c.frames.length} frames`)
    assert.equal(b.stats().frames, c.frames.length)
    c.client.close()
  })

  it('keeps order under priority bypass', async () => {
    const c = await connect(server)
    const b = batched(c.socket, { name: 'it-priority' })
    const expected: string[] = []
    for (let t = 0; t < 10; t++) {
      for (let i = 0; i < 30; i++) {
        const urgent = i % 7 === 3
        const m = `${t}:${i}${urgent ? '!' : ''}`
        expected.push(m)
        b.send(m, urgent ? { priority: 10 } : undefined)
      }
      await yieldTurn()
    }
    await until(() => c.received.length === expected.length, 10_000, 'all messages')
    assert.deepEqual(c.received, expected)
    c.client.close()
  })

  it('an urgent message reaches the TCP socket inside send(), with what was queued, in one frame', async () => {
    const c = await connect(server)
    const b = batched(c.socket, { name: 'it-urgent-sync', window: '100ms', maxBatch: 50 })
    const tcp = (c.socket as unknown as { _socket: { bytesWritten: number } })._socket
    for (let i = 0; i < 20; i++) b.send({ n: i })
    const before = tcp.bytesWritten
    assert.equal(b.pending, 20, 'normal messages wait for the window')
    b.send({ n: 20, urgent: true }, { priority: 10 })
    // no timer, immediate or microtask in between: the frame was handed to the socket already
    assert.equal(b.pending, 0)
    assert.equal(b.stats().frames, 1)
    assert.ok(tcp.bytesWritten > before + 20 * 8, `${tcp.bytesWritten - before} bytes written`)
    await until(() => c.received.length === 21, 5000, 'the urgent frame')
    assert.deepEqual(c.frames, [21])
    assert.deepEqual(
      c.received.map((m) => (m as { n: number }).n),
      Array.from({ length: 21 }, (_, i) => i),
    )
    c.client.close()
  })

  it('conflation delivers the last value of every key (msgpack frames)', async () => {
    const c = await connect(server, unpack)
    const b = batched(c.socket, { name: 'it-conflate', format: 'msgpack', maxBatch: 50 })
    const last = new Map<string, number>()
    let seed = 11
    for (let t = 0; t < 40; t++) {
      for (let i = 0; i < 250; i++) {
        seed = (seed * 1103515245 + 12345) % 2 ** 31
        const key = `k${seed % 50}`
        const v = t * 250 + i
        last.set(key, v)
        b.send({ key, v }, { key })
      }
      await yieldTurn()
    }
    await until(() => b.pending === 0, 5000, 'queue drained')
    await until(
      () => {
        const seen = new Map<string, number>()
        for (const m of c.received as { key: string; v: number }[]) seen.set(m.key, m.v)
        return [...last].every(([k, v]) => seen.get(k) === v)
      },
      10_000,
      'the last value of every key',
    )
    assert.ok(c.frames.every((n) => n <= 50))
    assert.ok(c.received.length < 10_000, `${c.received.length} delivered of 10000`)
    c.client.close()
  })

  it('a client that stops reading costs bounded memory: keyed traffic stays open and catches up', async () => {
    const c = await connect(server)
    const cap = 256 * 1024
    const b = batched(c.socket, { name: 'it-slow-keyed', highWatermark: 64 * 1024, maxBuffered: cap })
    const rawClient = (c.client as unknown as { _socket: { pause(): void; resume(): void } })._socket
    rawClient.pause()
    const pad = 'x'.repeat(200)
    let maxBuffered = 0
    for (let t = 0; t < 200; t++) {
      for (let i = 0; i < 500; i++) {
        b.send({ k: i % 100, v: t, pad }, { key: String(i % 100) })
        b.send({ tick: t }, { volatile: true })
      }
      maxBuffered = Math.max(maxBuffered, b.bufferedBytes)
      await yieldTurn()
    }
    assert.equal(b.isPaused, true, 'the batcher saw the client stall')
    assert.ok(maxBuffered <= cap, `buffered ${maxBuffered} > ${cap}`)
    assert.ok(c.socket.bufferedAmount <= cap)
    rawClient.resume()
    await until(
      () => {
        const seen = new Map<number, number>()
        for (const m of c.received as { k?: number; v: number }[]) if (m.k !== undefined) seen.set(m.k, m.v)
        return seen.size === 100 && [...seen.values()].every((v) => v === 199)
      },
      15_000,
      'the last value of every key after the stall',
    )
    c.client.close()
  })

  it('a client that stops reading under unkeyed traffic is closed with 1008 before the cap is passed', async () => {
    const c = await connect(server)
    const cap = 256 * 1024
    const b = batched(c.socket, { name: 'it-slow-plain', highWatermark: 64 * 1024, maxBuffered: cap })
    const rawClient = (c.client as unknown as { _socket: { pause(): void; resume(): void } })._socket
    rawClient.pause()
    const pad = 'x'.repeat(200)
    let maxBuffered = 0
    let refused = 0
    for (let t = 0; t < 400 && refused === 0; t++) {
      for (let i = 0; i < 500; i++) if (!b.send({ t, i, pad })) refused++
      maxBuffered = Math.max(maxBuffered, b.bufferedBytes)
      await yieldTurn()
    }
    assert.ok(refused > 0, 'sends were refused once the connection was closed')
    assert.ok(maxBuffered <= cap, `buffered ${maxBuffered} > ${cap}`)
    rawClient.resume()
    assert.equal(await c.closed, CLOSE_OVER_CAP)
  })

  it('a client that stays above the high watermark for maxStall is closed with 1013, under the cap', async () => {
    const c = await connect(server)
    const cap = 256 * 1024
    const name = 'it-slow-stall'
    const b = batched(c.socket, { name, highWatermark: 64 * 1024, maxBuffered: cap, maxStall: '200ms' })
    const rawClient = (c.client as unknown as { _socket: { pause(): void; resume(): void } })._socket
    rawClient.pause()
    const pad = 'x'.repeat(200)
    let maxBuffered = 0
    // keyed traffic over 100 keys conflates while paused, so the cap is never reached: only the
    // stall timer can close this connection
    const closes = () => wsCounters(undefined, name).stats().closedForBackpressure
    for (let t = 0; t < 2000 && closes() === 0; t++) {
      for (let i = 0; i < 500; i++) b.send({ k: i % 100, v: t, pad }, { key: String(i % 100) })
      maxBuffered = Math.max(maxBuffered, b.bufferedBytes)
      await new Promise((r) => setTimeout(r, 5))
    }
    assert.equal(closes(), 1, 'closed for backpressure')
    assert.ok(maxBuffered <= cap, `buffered ${maxBuffered} > ${cap}`)
    assert.equal(b.send({ late: true }), false, 'a closed batcher refuses sends')
    rawClient.resume()
    assert.equal(await c.closed, CLOSE_STALLED)
  })

  it('a broadcast encodes once for every member, and a slow member does not hold the others', async () => {
    const fast = [await connect(server), await connect(server), await connect(server)]
    const slow = await connect(server)
    const group = broadcaster({ name: 'it-broadcast', highWatermark: 16 * 1024, maxBuffered: 1024 * 1024 })
    for (const c of fast) group.add(c.socket)
    const slowMember = group.add(slow.socket)
    const rawSlow = (slow.client as unknown as { _socket: { pause(): void; resume(): void } })._socket
    rawSlow.pause()
    for (let t = 0; t < 100; t++) {
      for (let i = 0; i < 100; i++) group.send({ key: `k${i % 10}`, v: t * 100 + i }, { key: `k${i % 10}` })
      await yieldTurn()
    }
    for (const c of fast) {
      await until(
        () => (c.received.at(-1) as { v: number } | undefined)?.v === 9999,
        10_000,
        'the last broadcast on a fast member',
      )
    }
    assert.equal(group.size, 4)
    rawSlow.resume()
    await until(
      () => slow.received.some((m) => (m as { v: number }).v === 9999),
      10_000,
      'the last broadcast on the slow member',
    )
    assert.ok(slowMember.stats().messages > 0)
    for (const c of [...fast, slow]) c.client.close()
    await until(() => group.size === 0, 5000, 'members leaving on close')
  })
})
