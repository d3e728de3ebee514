// Regressions: unknown options (`maxAtempts`, ...) did nothing and said nothing; bulkhead(0) named
// `permits` where the option is `limit`; durations above 2^31-1 ms that feed a timer misfired.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  adaptiveLimit,
  batchExecute,
  bulkhead,
  circuitBreaker,
  constantBackoff,
  countWindow,
  createPool,
  createRateLimiter,
  decorrelatedJitterBackoff,
  exponentialBackoff,
  fallback,
  hedge,
  rateLimited,
  retry,
  sampling,
  timeout,
} from '../../../src/resilience/index.js'
import { FakeClock, MAX_TIMER_MS } from '../../../src/time.js'

/** Asserts a TypeError naming `key` (and `near`, the closest valid name, when given). */
function refuses(fn: () => unknown, key: string, near?: string): void {
  assert.throws(fn, (e: Error) => {
    assert.ok(e instanceof TypeError, String(e))
    assert.match(e.message, new RegExp(`"${key}"`))
    if (near !== undefined) assert.match(e.message, new RegExp(`did you mean "${near}"`, 'i'))
    return true
  })
}

describe('every resilience resolver refuses unknown options, naming the closest valid one', () => {
  it('policies', () => {
    refuses(() => retry({ maxAtempts: 3 } as never), 'maxAtempts', 'maxAttempts')
    refuses(() => retry({ budget: { ratioo: 0.1 } } as never), 'ratioo', 'ratio')
    refuses(() => timeout(100, { stratgy: 'cooperative' } as never), 'stratgy', 'strategy')
    refuses(() => circuitBreaker({ halfOpenAfterr: '1s' } as never), 'halfOpenAfterr', 'halfOpenAfter')
    refuses(() => hedge({ dealy: 10 } as never), 'dealy', 'delay')
    refuses(() => bulkhead(2, 0, { nmae: 'x' } as never), 'nmae', 'name')
    refuses(() => fallback(1, { handel: Error } as never), 'handel', 'handle')
    refuses(() => adaptiveLimit({ maxLimt: 10 } as never), 'maxLimt', 'maxLimit')
    refuses(() => adaptiveLimit({ vegas: { alpah: 2 } } as never), 'alpah', 'alpha')
  })
  it('strategies, backoffs, pools, limiters, batches', async () => {
    refuses(() => countWindow({ sise: 10 } as never), 'sise', 'size')
    refuses(() => sampling({ durtion: '1s' } as never), 'durtion', 'duration')
    refuses(() => exponentialBackoff({ factr: 2 } as never), 'factr', 'factor')
    refuses(() => decorrelatedJitterBackoff({ maxx: 10 } as never), 'maxx', 'max')
    refuses(() => createPool({ create: () => 1, mx: 2 } as never), 'mx', 'max')
    refuses(() => createRateLimiter({ limit: 1, window: '1s', windw: '1s' } as never), 'windw', 'window')
    refuses(
      () => rateLimited(() => 1, createRateLimiter({ limit: 1, window: '1s' }), { cots: 2 } as never),
      'cots',
      'cost',
    )
    await assert.rejects(batchExecute([], { concurency: 2 } as never), /"concurency"/)
  })
})

describe('bulkhead(0) names the option limit', () => {
  it('says "bulkhead limit must be ..."', () => {
    assert.throws(
      () => bulkhead(0),
      (e: Error) => e instanceof RangeError && /\blimit\b/.test(e.message) && !/permits/.test(e.message),
    )
  })
})

describe('durations that feed a timer above 2^31-1 ms are refused, naming the option', () => {
  const cases: Array<[string, () => unknown, RegExp]> = [
    ['timeout', () => timeout('30d'), /timeout duration/],
    ['hedge delay', () => hedge({ delay: '30d' }), /hedge delay/],
    ['hedge initialDelay', () => hedge({ initialDelay: '30d' }), /hedge initialDelay/],
    ['pool acquireTimeout', () => createPool({ create: () => 1, acquireTimeout: '30d' }), /acquireTimeout/],
    ['pool idleTimeout', () => createPool({ create: () => 1, idleTimeout: '30d' }), /idleTimeout/],
    ['constantBackoff', () => constantBackoff('30d'), /constantBackoff delay/],
    ['exponentialBackoff max', () => exponentialBackoff({ max: '30d' }), /exponentialBackoff max/],
    [
      'limiter Redis timeout',
      () => createRateLimiter({ limit: 1, window: '1s', timeout: '30d' }),
      /createRateLimiter timeout/,
    ],
  ]
  for (const [name, fn, pattern] of cases) {
    it(name, () => {
      assert.throws(fn, (e: Error) => e instanceof RangeError && pattern.test(e.message))
    })
  }
})

describe('a custom backoff asking for more than a timer can hold', () => {
  it('retry waits the whole delay in steps no timer overflows', async () => {
    const asked: number[] = []
    const clock = new (class extends FakeClock {
      override setTimeout(fn: () => void, ms: number) {
        asked.push(ms)
        return super.setTimeout(fn, ms)
      }
    })()
    const thirtyDays = 30 * 86_400_000
    let calls = 0
    const p = retry({ maxAttempts: 2, backoff: { next: () => thirtyDays }, budget: false, clock }).execute(
      async () => {
        if (++calls === 1) throw new Error('transient')
        return 'second'
      },
    )
    await new Promise((r) => setImmediate(r))
    assert.ok(asked.length > 0 && asked.every((ms) => ms <= MAX_TIMER_MS), `timers asked: ${asked}`)
    await clock.tick(MAX_TIMER_MS)
    assert.equal(calls, 1, 'not retried before the delay has passed')
    await clock.tick(thirtyDays - MAX_TIMER_MS)
    assert.equal(await p, 'second')
  })
})
