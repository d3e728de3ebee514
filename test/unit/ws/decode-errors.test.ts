import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { isHotpathError } from '../../../src/errors.js'
import { decodeFrame, WsDecodeError } from '../../../src/ws/index.js'

describe('decodeFrame errors carry E_WS_DECODE', () => {
  it('regression: a frame decodeFrame could not read threw an uncoded TypeError or SyntaxError; each is a WsDecodeError (E_WS_DECODE) with the parser error as its cause', () => {
    const cases: Array<[() => unknown, RegExp]> = [
      [() => decodeFrame('{"a":1}'), /a frame must hold an array of messages/],
      [() => decodeFrame('nope'), /a text frame is not JSON/],
      [() => decodeFrame(Buffer.from('nope'), {}, false), /a text frame is not JSON/],
      [() => decodeFrame(new Uint8Array([1])), /needs decodeFrame\(data, \{ unpack \}\)/],
      [
        () =>
          decodeFrame(new Uint8Array([1]), {
            unpack: () => {
              throw new RangeError('truncated')
            },
          }),
        /a binary frame could not be unpacked \(truncated\)/,
      ],
      [() => decodeFrame(42 as never), /a frame must be a string, an ArrayBuffer/],
    ]
    for (const [run, message] of cases) {
      assert.throws(run, (err: unknown) => {
        assert.ok(err instanceof WsDecodeError)
        assert.ok(isHotpathError(err, 'E_WS_DECODE'))
        assert.match((err as Error).message, message)
        return true
      })
    }
    assert.throws(
      () => decodeFrame('nope'),
      (err: unknown) => (err as Error).cause instanceof SyntaxError,
    )
  })
})
