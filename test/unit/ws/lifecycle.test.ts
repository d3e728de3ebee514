import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { onMessages } from '../../../src/ws/client.js'
import { batched, broadcaster, wsCounters } from '../../../src/ws/index.js'
import { FakeSocket, turn } from './support.js'

function countingLoop() {
  const loop = {
    delayMs: 0,
    delayStartedAt: 0,
    utilization: 0,
    heapUsedBytes: 0,
    retained: 0,
    retain() {
      loop.retained++
      return () => {
        loop.retained--
      }
    },
  }
  return loop
}

describe('batcher lifecycle', () => {
  it('retains the event-loop source once while adaptive batchers are open, and releases it after the last', () => {
    const loop = countingLoop()
    const sockets = [new FakeSocket(), new FakeSocket(), new FakeSocket()]
    const group = broadcaster({ eventLoop: loop, name: 'life' })
    for (const s of sockets) batched(s, { eventLoop: loop, name: 'life' })
    batched(new FakeSocket(), { eventLoop: loop, window: 'turn', name: 'life' }).close()
    assert.equal(loop.retained, 1)
    for (const s of sockets) s.emitClose()
    assert.equal(loop.retained, 1, 'the group still holds it')
    group.close()
    assert.equal(loop.retained, 0)
  })

  it('keeps figures per name without a monitor: frames, messages, conflated, dropped, connections', async () => {
    const s = new FakeSocket()
    const b = batched(s, { name: 'figures' })
    b.send(1, { key: 'a' })
    b.send(2, { key: 'a' })
    b.send(3)
    await turn()
    const before = wsCounters(undefined, 'figures').stats()
    assert.deepEqual(
      { ...before, bufferedBytes: 0 },
      {
        messages: 2,
        frames: 1,
        conflated: 1,
        dropped: 0,
        closedForBackpressure: 0,
        connections: 1,
        bufferedBytes: 0,
      },
    )
    b.send(4)
    s.emitClose()
    const after = wsCounters(undefined, 'figures').stats()
    assert.equal(after.dropped, 1)
    assert.equal(after.connections, 0)
  })
})

describe('onMessages (browser WebSocket)', () => {
  it('calls back for every message of every frame and unsubscribes', () => {
    const listeners = new Set<(e: { data: unknown }) => void>()
    const target = {
      addEventListener: (_t: 'message', l: (e: { data: unknown }) => void) => listeners.add(l),
      removeEventListener: (_t: 'message', l: (e: { data: unknown }) => void) => listeners.delete(l),
    }
    const got: unknown[] = []
    const off = onMessages(target, (m) => got.push(m))
    for (const l of listeners) l({ data: '[1,2]' })
    for (const l of listeners) l({ data: '[{"a":3}]' })
    off()
    assert.equal(listeners.size, 0)
    assert.deepEqual(got, [1, 2, { a: 3 }])
  })
})
