// redisTransport() options that used to be taken without a check. No connection is made: the
// options are refused when the transport is created.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { redisTransport } from '../../../src/bus/index.js'

const URL = 'redis://127.0.0.1:6379'

describe('redisTransport options', () => {
  it('regression: readWeights of zeros (or not four) gave NaN read counts, and the consumer never consumed', () => {
    for (const readWeights of [[0, 0, 0, 0], [8, 4, 2], [8, 4, 2, -1], [8, 4, 2, Number.NaN], 'heavy']) {
      assert.throws(
        () => redisTransport({ redis: URL, readWeights: readWeights as never }),
        (e: Error) =>
          e instanceof RangeError &&
          e.message.startsWith(
            'readWeights must be four positive numbers (urgent, high, normal, low); received',
          ),
        `readWeights ${JSON.stringify(readWeights)}`,
      )
    }
  })

  it('a prefix that is not a non-empty string is refused', () => {
    for (const prefix of [42, '', { ns: 'a' }]) {
      assert.throws(
        () => redisTransport({ redis: URL, prefix: prefix as never }),
        (e: Error) => e instanceof TypeError && e.message.startsWith('prefix must be a non-empty string'),
      )
    }
  })

  it('good weights and prefixes still pass', async () => {
    const t = redisTransport({ redis: URL, readWeights: [1, 1, 1, 1], prefix: 'x:' })
    await t.close()
  })
})
