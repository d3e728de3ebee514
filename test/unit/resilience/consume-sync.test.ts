// Regressions: consumeSync skipped the checks consume makes (cost -100 -> remaining 105, NaN ->
// retryAfterMs null), and a cost above the limit answered "retry after 2 s" though it can never pass.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { isHotpathError } from '../../../src/errors.js'
import { createRateLimiter } from '../../../src/resilience/index.js'
import { FakeClock } from '../../../src/time.js'

describe('consumeSync makes the same checks as consume', () => {
  for (const cost of [-100, 0, Number.NaN, Number.POSITIVE_INFINITY, '2' as unknown as number]) {
    it(`cost ${String(cost)} is refused by both`, async () => {
      const rl = createRateLimiter({ limit: 5, window: '1s', clock: new FakeClock() })
      assert.throws(() => rl.consumeSync('k', cost), RangeError)
      await assert.rejects(rl.consume('k', cost), RangeError)
      assert.equal(rl.consumeSync('k').remaining, 4, 'the refused calls changed nothing')
    })
  }
  it('a key that is not a string is refused by both', async () => {
    const rl = createRateLimiter({ limit: 5, window: '1s' })
    assert.throws(() => rl.consumeSync(5 as never), TypeError)
    await assert.rejects(rl.consume(5 as never), TypeError)
  })
})

describe('a cost above the limit can never succeed, and says so', () => {
  for (const algorithm of ['token-bucket', 'gcra'] as const) {
    it(`${algorithm}: decision flag exceedsLimit, no finite retry-after, no Retry-After header`, async () => {
      const rl = createRateLimiter({ limit: 5, window: '10s', algorithm, clock: new FakeClock() })
      for (const d of [rl.consumeSync('k', 6), await rl.consume('k', 6)]) {
        assert.equal(d.allowed, false)
        assert.equal(d.exceedsLimit, true)
        assert.equal(Number.isFinite(d.retryAfterMs), false)
        assert.equal(rl.headers(d)['Retry-After'], undefined)
      }
      const ok = rl.consumeSync('k', 5)
      assert.equal(ok.allowed, true, 'the over-limit calls took nothing')
      assert.equal(ok.exceedsLimit, undefined)
      await assert.rejects(
        rl.execute('k', () => 1, 6),
        (e) =>
          isHotpathError(e, 'E_RATE_LIMITED') &&
          e.retryAfter === undefined &&
          /can never be allowed/.test(e.message),
      )
    })
  }
})
