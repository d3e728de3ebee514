/** Regressions found by an audit of hotpath/ws that need no socket. */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { isHotpathError } from '../../../src/errors.js'
import { decodeFrame, resolveBatchedOptions } from '../../../src/ws/index.js'

describe('hotpath/ws audit (no socket)', () => {
  it('regression: clock was never checked (a bad one threw at the first send) and monitor: null threw "Cannot read properties of null"', () => {
    assert.throws(
      () => resolveBatchedOptions({ clock: 5 as never }),
      (e: Error) => e instanceof TypeError && /clock/.test(e.message) && /5/.test(e.message),
    )
    assert.throws(
      () => resolveBatchedOptions({ clock: {} as never }),
      (e: Error) => e instanceof TypeError && /clock/.test(e.message),
    )
    assert.throws(
      () => resolveBatchedOptions({ monitor: null as never }),
      (e: Error) => e instanceof TypeError && /monitor/.test(e.message) && /null/.test(e.message),
    )
  })

  it('regression: decodeFrame of a Blob (a browser socket left on binaryType "blob") or of null threw "parts is not iterable"', () => {
    for (const data of [new Blob(['[1]']), null, 5, {}]) {
      assert.throws(
        () => decodeFrame(data as never),
        // a coded WsDecodeError (E_WS_DECODE) since onMessages hands these to onError
        (e: Error) => isHotpathError(e, 'E_WS_DECODE') && /hotpath\/ws client/.test(e.message),
        String(data),
      )
    }
    assert.throws(
      () => decodeFrame(new Blob(['[1]']) as never),
      (e: Error) => /binaryType/.test(e.message),
    )
  })
})
