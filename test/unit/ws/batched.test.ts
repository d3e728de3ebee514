import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { FakeClock } from '../../../src/time.js'
import { batched, CLOSE_OVER_CAP, CLOSE_STALLED } from '../../../src/ws/index.js'
import { FakeSocket, fakeLoop, turn } from './support.js'

const quiet = { eventLoop: fakeLoop() }

/** A batcher with a fixed 100 ms window on a fake clock. */
function windowed() {
  const clock = new FakeClock()
  const s = new FakeSocket()
  return { clock, s, b: batched(s, { ...quiet, window: '100ms', maxBatch: 50, clock }) }
}

describe('batched: batching', () => {
  it('writes the messages of one turn as one frame at the end of the turn', async () => {
    const s = new FakeSocket()
    const b = batched(s, quiet)
    for (let i = 0; i < 5; i++) b.send({ i })
    assert.equal(s.frames.length, 0)
    await turn()
    assert.equal(s.frames.length, 1)
    assert.deepEqual(s.messages(), [{ i: 0 }, { i: 1 }, { i: 2 }, { i: 3 }, { i: 4 }])
  })

  it('writes at once when the queue reaches maxBatch or maxBytes', () => {
    const s = new FakeSocket()
    const b = batched(s, { ...quiet, maxBatch: 3 })
    for (let i = 0; i < 7; i++) b.send(i)
    assert.deepEqual(s.frames, ['[0,1,2]', '[3,4,5]'])
    const t = new FakeSocket()
    const c = batched(t, { ...quiet, maxBytes: 10 })
    c.send('aaaa')
    c.send('bbbb')
    assert.deepEqual(t.frames, ['["aaaa","bbbb"]'])
  })

  it('a priority message flushes the queue at once, queued messages first', () => {
    const s = new FakeSocket()
    const b = batched(s, quiet)
    b.send('a')
    b.send('b')
    b.send('urgent', { priority: 10 })
    b.send('c')
    b.send('urgent2', { priority: 99 })
    assert.deepEqual(s.messages(), ['a', 'b', 'urgent', 'c', 'urgent2'])
    b.send('low', { priority: 9 })
    assert.equal(s.frames.length, 2)
  })

  it('a fixed window waits that long', () => {
    const { clock, s, b } = windowed()
    b.send(1)
    clock.advance(99)
    assert.equal(s.frames.length, 0)
    b.send(2)
    clock.advance(1)
    assert.deepEqual(s.frames, ['[1,2]'])
  })

  it('a priority flush inside a window leaves the timer armed: what follows leaves at the first deadline', () => {
    const { clock, s, b } = windowed()
    b.send(1)
    clock.advance(40)
    b.send(2, { priority: 10 })
    assert.deepEqual(s.frames, ['[1,2]'])
    assert.equal(clock.pending, 1, 'the window timer was not cleared (nor a second one made)')
    b.send(3)
    assert.equal(clock.pending, 1)
    clock.advance(59)
    assert.equal(s.frames.length, 1)
    clock.advance(1)
    assert.deepEqual(s.frames, ['[1,2]', '[3]'], 'a window is a maximum wait: 3 left after 60 ms')
    b.send(4)
    clock.advance(99)
    assert.equal(s.frames.length, 2)
    clock.advance(1)
    assert.deepEqual(s.frames, ['[1,2]', '[3]', '[4]'])
  })

  it('refuses a message the codec cannot encode without queuing anything', async () => {
    const s = new FakeSocket()
    const b = batched(s, quiet)
    assert.throws(() => b.send(() => 1), /cannot send function/)
    b.send(1)
    await turn()
    assert.deepEqual(s.frames, ['[1]'])
  })
})

describe('batched: conflation', () => {
  it('keeps the latest value per key, after the messages sent before it', async () => {
    const s = new FakeSocket()
    const b = batched(s, { ...quiet, maxBatch: 50 })
    b.send({ k: 'a', v: 1 }, { key: 'a' })
    b.send({ k: 'b', v: 1 }, { key: 'b' })
    b.send('delete a')
    b.send({ k: 'a', v: 2 }, { key: 'a' })
    await turn()
    assert.deepEqual(s.messages(), [{ k: 'b', v: 1 }, 'delete a', { k: 'a', v: 2 }])
  })

  it('merges with merge(previous, next, key)', async () => {
    const s = new FakeSocket()
    const b = batched<Record<string, number>>(s, {
      ...quiet,
      maxBatch: 50,
      merge: (previous, next) => ({ ...previous, ...next }),
    })
    b.send({ x: 1 }, { key: 'p' })
    b.send({ y: 2 }, { key: 'p' })
    b.send({ x: 3 }, { key: 'p' })
    await turn()
    assert.deepEqual(s.messages(), [{ x: 3, y: 2 }])
  })

  it('50 keys updated many times per turn: at most 50 messages per frame, last value of each key delivered', async () => {
    const s = new FakeSocket()
    const b = batched(s, { ...quiet, maxBatch: 50 })
    const last = new Map<string, number>()
    let seed = 7
    for (let turnNo = 0; turnNo < 20; turnNo++) {
      for (let i = 0; i < 500; i++) {
        seed = (seed * 1103515245 + 12345) % 2 ** 31
        const key = `k${seed % 50}`
        const v = turnNo * 1000 + i
        last.set(key, v)
        b.send({ key, v }, { key })
      }
      await turn()
    }
    const seen = new Map<string, number>()
    for (const f of s.frames) {
      const msgs = JSON.parse(f as string) as { key: string; v: number }[]
      assert.ok(msgs.length <= 50)
      for (const m of msgs) seen.set(m.key, m.v)
    }
    assert.deepEqual(seen, last)
    assert.ok(s.messages().length < 10_000 / 2)
  })
})

describe('batched: backpressure', () => {
  it('stops writing above the high watermark, conflates, drops volatile, resumes below the low one', () => {
    const clock = new FakeClock()
    const s = new FakeSocket()
    const b = batched(s, { ...quiet, clock, highWatermark: 1000, lowWatermark: 100, maxBuffered: 100_000 })
    s.bufferedAmount = 5000
    b.send('v1', { volatile: true })
    b.send('x', { key: 'x' })
    b.flush()
    assert.equal(s.frames.length, 0)
    assert.equal(b.isPaused, true)
    assert.equal(b.send('v2', { volatile: true }), false)
    for (let i = 0; i < 100; i++) b.send(i, { key: 'x' })
    b.send('plain')
    assert.equal(b.pending, 2)
    clock.advance(50)
    assert.equal(s.frames.length, 0)
    s.bufferedAmount = 50
    clock.advance(10)
    assert.equal(b.isPaused, false)
    assert.deepEqual(s.messages(), [99, 'plain'])
  })

  it('closes with 1008 when socket buffer plus queue pass maxBuffered, and cuts the socket later', () => {
    const clock = new FakeClock()
    const s = new FakeSocket()
    const b = batched(s, { ...quiet, clock, highWatermark: 1000, lowWatermark: 100, maxBuffered: 2000 })
    s.bufferedAmount = 1500
    let accepted = 0
    for (let i = 0; i < 1000; i++) if (b.send('x'.repeat(20))) accepted++
    assert.equal(s.closedWith, CLOSE_OVER_CAP)
    assert.ok(accepted < 30, `accepted ${accepted}`)
    assert.ok(b.bufferedBytes <= 2000)
    clock.advance(1000)
    assert.equal(s.terminated, true)
  })

  it('closes with 1013 after maxStall above the high watermark', () => {
    const clock = new FakeClock()
    const s = new FakeSocket()
    const b = batched(s, { ...quiet, clock, highWatermark: 1000, maxStall: '1s' })
    s.bufferedAmount = 1500
    b.send('x')
    b.flush()
    clock.advance(990)
    assert.equal(s.closedWith, undefined)
    clock.advance(20)
    assert.equal(s.closedWith, CLOSE_STALLED)
    assert.equal(b.send('late'), false)
  })

  it('drops what is pending when the socket closes', async () => {
    const s = new FakeSocket()
    const b = batched(s, { ...quiet, name: 'drop-test' })
    b.send(1)
    s.emitClose()
    await turn()
    assert.equal(s.frames.length, 0)
    assert.equal(b.send(2), false)
  })
})

describe('batched: adaptive', () => {
  it('keeps maxBatch and the end of turn when idle; widens toward 50 and maxWait under load', async () => {
    const clock = new FakeClock()
    const loop = fakeLoop()
    const s = new FakeSocket()
    const b = batched(s, { eventLoop: loop, clock })
    for (let i = 0; i < 25; i++) b.send(i)
    assert.equal(s.frames.length, 2)
    await turn()
    assert.equal(s.frames.length, 3)
    loop.utilization = 1
    s.frames.length = 0
    for (let i = 0; i < 49; i++) b.send(i) // the first one reads the load: batch size 50, window 100 ms
    await turn()
    assert.equal(s.frames.length, 0, 'a loaded loop waits for the window')
    clock.advance(100)
    assert.equal(s.frames.length, 1)
    assert.equal(s.messages().length, 49)
    for (let i = 0; i < 50; i++) b.send(i)
    assert.equal(s.frames.length, 2, 'a full batch of 50 goes at once')
  })

  it('a long loop delay with a quiet loop grows the batch but keeps the end-of-turn flush', async () => {
    const s = new FakeSocket()
    const b = batched(s, { eventLoop: fakeLoop(100, 0.1) })
    for (let i = 0; i < 49; i++) b.send(i)
    assert.equal(s.frames.length, 0, 'batch size 50')
    await turn()
    assert.equal(s.frames.length, 1)
  })
})
