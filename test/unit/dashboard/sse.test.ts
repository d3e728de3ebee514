import assert from 'node:assert/strict'
import { EventEmitter } from 'node:events'
import type { ServerResponse } from 'node:http'
import { describe, it } from 'node:test'
import { format, MAX_BUFFERED, SseHub } from '../../../src/dashboard/sse.js'

class FakeResponse extends EventEmitter {
  writableLength = 0
  written: string[] = []
  status = 0
  destroyed = false
  ended = false
  writeHead(status: number) {
    this.status = status
    return this
  }
  write(chunk: string) {
    this.written.push(chunk)
    return true
  }
  destroy() {
    this.destroyed = true
    this.emit('close')
  }
  end() {
    this.ended = true
  }
}

const open = (hub: SseHub) => {
  const res = new FakeResponse()
  const ok = hub.open(res as unknown as ServerResponse, 'first')
  return { res, ok }
}

describe('SSE hub', () => {
  it('formats events with an optional id', () => {
    assert.equal(format('tick', '{}', 7), 'id: 7\nevent: tick\ndata: {}\n\n')
    assert.equal(format('hello', '{}'), 'event: hello\ndata: {}\n\n')
  })

  it('sends each event to every client, and refuses clients past maxClients', () => {
    const hub = new SseHub(2)
    const a = open(hub)
    const b = open(hub)
    const c = open(hub)
    assert.equal(a.ok && b.ok, true)
    assert.equal(c.ok, false)
    assert.equal(a.res.status, 200)
    hub.send('tick', '1', 1)
    assert.deepEqual(b.res.written, ['first', 'id: 1\nevent: tick\ndata: 1\n\n'])
    b.res.emit('close')
    assert.equal(hub.size, 1, 'a closed client leaves the hub')
  })

  it('drops a client that has more than MAX_BUFFERED waiting instead of buffering without bound', () => {
    const hub = new SseHub(5)
    const slow = open(hub)
    const fast = open(hub)
    // the first chunk (the history) does not count against the bound: MAX_BUFFERED past it does
    slow.res.writableLength = MAX_BUFFERED + Buffer.byteLength('first')
    hub.send('tick', 'x', 1)
    assert.equal(slow.res.destroyed, false, 'still reading its history')
    slow.res.writableLength = MAX_BUFFERED + Buffer.byteLength('first') + 1
    hub.send('tick', 'x', 2)
    assert.equal(slow.res.destroyed, true)
    assert.equal(slow.res.written.length, 2, 'nothing more was queued for it')
    assert.equal(fast.res.written.length, 3)
    assert.equal(hub.size, 1)
  })

  it('heartbeats with a comment line, and ends every stream on close', () => {
    const hub = new SseHub(5)
    const a = open(hub)
    hub.heartbeat()
    assert.equal(a.res.written[1], ': ping\n\n')
    hub.close()
    assert.equal(a.res.ended, true)
    assert.equal(hub.size, 0)
  })
})
