import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { pack, unpack } from 'msgpackr'
import { FakeClock } from '../../../src/time.js'
import { batched, broadcaster, decodeFrame, resolveBatchedOptions } from '../../../src/ws/index.js'
import { FakeSocket, fakeLoop, turn } from './support.js'

describe('broadcaster', () => {
  it('encodes a batch once and writes the same buffer to every member', async () => {
    const group = broadcaster({ eventLoop: fakeLoop() })
    const sockets = [new FakeSocket(), new FakeSocket(), new FakeSocket()]
    for (const s of sockets) group.add(s)
    group.send({ a: 1 })
    group.send({ b: 2 })
    await turn()
    const first = sockets[0]?.frames[0]
    assert.ok(first instanceof Uint8Array)
    for (const s of sockets) assert.equal(s.frames[0], first)
    assert.deepEqual(decodeFrame(first, {}, false), [{ a: 1 }, { b: 2 }])
  })

  it('a slow member queues the batch in its own queue (conflating) and catches up in order', async () => {
    const clock = new FakeClock()
    const group = broadcaster({ eventLoop: fakeLoop(), highWatermark: 1000, lowWatermark: 10, clock })
    const fast = new FakeSocket()
    const slow = new FakeSocket()
    group.add(fast)
    const member = group.add(slow)
    slow.bufferedAmount = 5000
    for (let i = 0; i < 5; i++) {
      group.send({ k: 'x', v: i }, { key: 'x' })
      group.send({ n: i })
      await turn()
    }
    assert.equal(fast.frames.length, 5)
    assert.equal(slow.frames.length, 0)
    assert.equal(member.isPaused, true)
    slow.bufferedAmount = 0
    clock.advance(10) // the paused member's poll sees the buffer drained
    const got = slow.frames.flatMap((f) => decodeFrame(f as Uint8Array, {}, false))
    assert.deepEqual(got, [{ n: 0 }, { n: 1 }, { n: 2 }, { n: 3 }, { k: 'x', v: 4 }, { n: 4 }])
  })
})

describe('broadcaster: membership', () => {
  it('regression: a socket added twice got every broadcast message twice', async () => {
    const group = broadcaster<number>({ eventLoop: fakeLoop() })
    const s = new FakeSocket()
    const first = group.add(s)
    assert.equal(group.add(s), first)
    assert.equal(group.add(first), first)
    assert.equal(group.size, 1)
    group.send(1)
    await turn()
    assert.deepEqual(s.frames.map(String), ['[1]'])
    const other = batched<number>(s, { eventLoop: fakeLoop() })
    assert.throws(() => group.add(other), /already in the group with another batcher/)
  })

  it('regression: a msgpack batcher joined a JSON group and was sent JSON bytes as a binary frame (decoded as garbage)', async () => {
    const group = broadcaster<number>({ eventLoop: fakeLoop() })
    const s = new FakeSocket()
    const member = batched<number>(s, { eventLoop: fakeLoop(), format: 'msgpack' })
    assert.throws(() => group.add(member), /a msgpack batcher cannot join a json group/)
    group.send(1)
    await turn()
    assert.deepEqual(s.frames, [])
  })

  it('regression: add(null) threw an unhelpful "Cannot read properties of null"', () => {
    const group = broadcaster({ eventLoop: fakeLoop() })
    assert.throws(() => group.add(null as never), /needs a ws WebSocket/)
  })
})

describe('client decoder', () => {
  it('reads JSON text frames, JSON in bytes, msgpack with an unpack, and refuses a non-array', () => {
    assert.deepEqual(decodeFrame('[1,"a",{"b":2}]'), [1, 'a', { b: 2 }])
    assert.deepEqual(decodeFrame(Buffer.from('[1,2]'), {}, false), [1, 2])
    const mp = pack([{ x: 1 }, 'y'])
    assert.deepEqual(decodeFrame(mp, { unpack }), [{ x: 1 }, 'y'])
    assert.deepEqual(decodeFrame([mp.subarray(0, 3), mp.subarray(3)], { unpack }), [{ x: 1 }, 'y'])
    assert.throws(() => decodeFrame(mp), /needs decodeFrame\(data, \{ unpack \}\)/)
    assert.throws(() => decodeFrame('{"a":1}'), /array of messages/)
  })
})

describe('resolveBatchedOptions', () => {
  it('names the closest option, validates ranges, freezes, and passes a resolved object through', () => {
    assert.throws(() => resolveBatchedOptions({ maxBach: 5 } as never), /did you mean "maxBatch"/i)
    assert.throws(
      () => resolveBatchedOptions({ maxBatch: 0 }),
      /maxBatch must be an integer >= 1; received 0/,
    )
    assert.throws(() => resolveBatchedOptions({ maxBatch: 60 }), /inside batchRange \[2, 50\]/)
    assert.throws(() => resolveBatchedOptions({ batchRange: [10, 5] }), /reversed/)
    assert.throws(
      () => resolveBatchedOptions({ highWatermark: 2000, maxBuffered: 1000 }),
      /at least highWatermark/,
    )
    assert.throws(() => resolveBatchedOptions({ lowWatermark: 10, highWatermark: 5 }), /lowWatermark/)
    assert.throws(() => resolveBatchedOptions({ window: 'soon' as never }), /window must look like/)
    assert.throws(() => resolveBatchedOptions({ format: 'cbor' as never }), /format must be/)
    const r = resolveBatchedOptions({ maxBatch: 20 })
    assert.ok(Object.isFrozen(r))
    assert.equal(resolveBatchedOptions(r), r)
    assert.equal(r.maxBatch, 20)
    assert.equal(r.maxBuffered, 1024 * 1024)
  })
})
