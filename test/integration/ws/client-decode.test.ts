/**
 * `onMessages` on a Node `ws` client (through ws's addEventListener) when the server sends a
 * frame that is not an array of messages: the error goes to `onError` with E_WS_DECODE, the
 * frame is dropped, later frames arrive, and the process goes on.
 */
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { describe, it } from 'node:test'
import { WebSocket } from 'ws'
import { isHotpathError } from '../../../src/errors.js'
import { onMessages, type WsDecodeError } from '../../../src/ws/index.js'
import { serve } from './support.js'

async function client(url: string): Promise<WebSocket> {
  const c = new WebSocket(url)
  await once(c, 'open')
  return c
}

describe('onMessages on a Node ws client', () => {
  it('regression: a frame that was not an array of messages was an uncaught exception thrown out of the socket (the process ended); it goes to onError (E_WS_DECODE) and later frames still arrive', async () => {
    const server = await serve()
    const c = await client(server.url)
    const [socket] = [...server.wss.clients]
    const got: unknown[] = []
    const errors: WsDecodeError[] = []
    onMessages(c, (m) => got.push(m), { onError: (e) => errors.push(e) })
    socket?.send('{"a":1}')
    socket?.send('not json at all')
    socket?.send('[1,2]')
    const deadline = Date.now() + 5000
    while (got.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10))
    assert.deepEqual(got, [1, 2])
    assert.equal(errors.length, 2)
    assert.ok(errors.every((e) => isHotpathError(e, 'E_WS_DECODE')))
    assert.match(errors[0]?.message ?? '', /a frame must hold an array of messages/)
    assert.match(errors[1]?.message ?? '', /a text frame is not JSON/)
    assert.ok(errors[1]?.cause instanceof SyntaxError)
    c.close()
    await server.close()
  })

  it('without onError a bad frame is reported (console.error on Node), not thrown', async () => {
    const server = await serve()
    const c = await client(server.url)
    const [socket] = [...server.wss.clients]
    const got: unknown[] = []
    const reported: unknown[] = []
    const original = console.error
    console.error = (e: unknown) => reported.push(e)
    try {
      onMessages(c, (m) => got.push(m))
      socket?.send('"just a string"')
      socket?.send('[3]')
      const deadline = Date.now() + 5000
      while (got.length < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10))
    } finally {
      console.error = original
    }
    assert.deepEqual(got, [3])
    assert.equal(reported.length, 1)
    assert.ok(isHotpathError(reported[0], 'E_WS_DECODE'))
    c.close()
    await server.close()
  })

  it('an onError that is not a function is refused', () => {
    const target = { addEventListener() {}, removeEventListener() {} }
    assert.throws(
      () => onMessages(target, () => {}, { onError: 'log' as never }),
      /onMessages option onError must be a function; received string/,
    )
  })
})
