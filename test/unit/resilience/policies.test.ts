import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { isHotpathError } from '../../../src/errors.js'
import {
  batchExecute,
  bulkhead,
  circuitBreaker,
  consecutive,
  constantBackoff,
  decorrelatedJitterBackoff,
  exponentialBackoff,
  fallback,
  hedge,
  retry,
  semaphore,
  timeout,
  wrap,
} from '../../../src/resilience/index.js'
import { FakeClock } from '../../../src/time.js'

const flush = async () => {
  for (let i = 0; i < 5; i++) await new Promise<void>((r) => setImmediate(r))
}

describe('backoff', () => {
  it('exponential grows by factor up to max; full jitter stays within [0, delay]', () => {
    const b = exponentialBackoff({ initial: 100, factor: 2, max: 1000, jitter: 'none' })
    assert.deepEqual(
      [1, 2, 3, 4, 5].map((a) => b.next(a, 0)),
      [100, 200, 400, 800, 1000],
    )
    const j = exponentialBackoff({ initial: 100 })
    for (let a = 1; a < 10; a++) {
      const d = j.next(a, 0)
      assert.ok(d >= 0 && d <= Math.min(30_000, 100 * 2 ** (a - 1)))
    }
    assert.equal(constantBackoff(5).next(9, 0), 5)
    const dj = decorrelatedJitterBackoff({ initial: 10, max: 100 })
    let prev = 0
    for (let a = 1; a < 20; a++) {
      prev = dj.next(a, prev)
      assert.ok(prev >= 10 && prev <= 100)
    }
    assert.throws(() => exponentialBackoff({ factor: 0.5 }), /factor/)
  })
})

describe('retry', () => {
  it('retries handled errors with the backoff delays, then succeeds', async () => {
    const clock = new FakeClock()
    const r = retry({ maxAttempts: 3, backoff: constantBackoff(100), clock, budget: false })
    let attempts = 0
    const p = r.execute(async ({ attempt }) => {
      attempts = attempt
      if (attempt < 3) throw new Error('flaky')
      return 'done'
    })
    await flush()
    assert.equal(attempts, 1)
    await clock.tick(100)
    assert.equal(attempts, 2)
    await clock.tick(100)
    assert.equal(await p, 'done')
    assert.equal(r.stats().retries, 2)
  })

  it('gives up after maxAttempts with the last error, and never retries unhandled errors', async () => {
    class Fatal extends Error {}
    const r = retry({
      maxAttempts: 2,
      backoff: constantBackoff(0),
      handle: (e) => !(e instanceof Fatal),
      budget: false,
    })
    let calls = 0
    await assert.rejects(
      r.execute(async () => {
        calls++
        throw new Error(`fail ${calls}`)
      }),
      /fail 2/,
    )
    calls = 0
    await assert.rejects(
      r.execute(async () => {
        calls++
        throw new Fatal('stop')
      }),
      /stop/,
    )
    assert.equal(calls, 1)
  })

  it('the retry budget stops retries from multiplying load (E_RETRY_BUDGET)', async () => {
    const clock = new FakeClock()
    const r = retry({
      maxAttempts: 5,
      backoff: constantBackoff(0),
      clock,
      budget: { ratio: 0.1, window: 1000, minPerSecond: 0 },
    })
    const always = async () => {
      throw new Error('down')
    }
    let budgetErrors = 0
    for (let i = 0; i < 100; i++) {
      try {
        await r.execute(always)
      } catch (e) {
        if (isHotpathError(e, 'E_RETRY_BUDGET')) budgetErrors++
      }
    }
    const s = r.stats()
    assert.ok(s.retries <= 10, `retries ${s.retries} within 10% of 100 calls`)
    assert.ok(budgetErrors >= 90)
    clock.advance(2000)
    assert.equal(r.stats().budget?.calls, 0, 'the window slides')
  })

  it('aborting during the backoff rejects with E_ABORTED', async () => {
    const clock = new FakeClock()
    const r = retry({ backoff: constantBackoff(1000), clock, budget: false })
    const ac = new AbortController()
    const p = r.execute(async () => {
      throw new Error('x')
    }, ac.signal)
    await flush()
    ac.abort()
    await assert.rejects(p, (e) => isHotpathError(e, 'E_ABORTED'))
  })
})

describe('timeout', () => {
  it('aggressive: rejects with E_TIMEOUT at the deadline and aborts the signal', async () => {
    const clock = new FakeClock()
    const t = timeout(100, { clock })
    let signal: AbortSignal | undefined
    const p = t.execute((ctx) => {
      signal = ctx.signal
      return new Promise(() => {})
    })
    clock.advance(99)
    await flush()
    assert.equal(signal?.aborted, false)
    clock.advance(1)
    await assert.rejects(p, (e) => isHotpathError(e, 'E_TIMEOUT'))
    assert.equal(signal?.aborted, true)
    assert.equal(t.stats().timeouts, 1)
  })

  it('cooperative: aborts the signal and waits; a late failure becomes E_TIMEOUT', async () => {
    const clock = new FakeClock()
    const t = timeout(50, { clock, strategy: 'cooperative' })
    const p = t.execute(
      ({ signal }) =>
        new Promise((_, reject) =>
          signal.addEventListener('abort', () => setImmediate(() => reject(new Error('stopped')))),
        ),
    )
    clock.advance(50)
    await assert.rejects(p, (e) => isHotpathError(e, 'E_TIMEOUT'))
  })

  it('passes fast results through and keeps deadlines per call in order', async () => {
    const clock = new FakeClock()
    const t = timeout(100, { clock })
    assert.equal(await t.execute(() => 1), 1)
    assert.equal(await t.execute(async () => 2), 2)
    const a = t.execute(() => new Promise(() => {}))
    clock.advance(50)
    const b = t.execute(() => new Promise(() => {}))
    clock.advance(50)
    await assert.rejects(a, (e) => isHotpathError(e, 'E_TIMEOUT'))
    let bDone = false
    b.catch(() => {
      bDone = true
    })
    await flush()
    assert.equal(bDone, false)
    clock.advance(50)
    await assert.rejects(b, (e) => isHotpathError(e, 'E_TIMEOUT'))
  })

  it('rejects bad durations', () => {
    assert.throws(() => timeout(0), RangeError)
    assert.throws(() => timeout('fast' as never), /timeout duration/)
  })
})

describe('bulkhead and semaphore', () => {
  it('runs limit, queues up to queue, rejects the rest with E_BULKHEAD_FULL', async () => {
    const b = bulkhead(2, 1)
    const gates: Array<() => void> = []
    const work = () => new Promise<void>((r) => gates.push(r))
    const p1 = b.execute(work)
    const p2 = b.execute(work)
    const p3 = b.execute(work)
    await assert.rejects(b.execute(work), (e) => isHotpathError(e, 'E_BULKHEAD_FULL'))
    assert.deepEqual({ running: b.stats().running, queued: b.stats().queued }, { running: 2, queued: 1 })
    gates.shift()?.()
    await p1
    await flush()
    assert.equal(gates.length, 2, 'the queued call started')
    for (const g of gates.splice(0)) g()
    await Promise.all([p2, p3])
  })

  it('semaphore waiters are served in order and can abort', async () => {
    const s = semaphore(1)
    await s.acquire()
    const order: number[] = []
    const a = s.acquire().then(() => order.push(1))
    const ac = new AbortController()
    const b = s.acquire(ac.signal)
    const c = s.acquire().then(() => order.push(3))
    ac.abort()
    await assert.rejects(b, (e) => isHotpathError(e, 'E_ABORTED'))
    s.release()
    await a
    s.release()
    await c
    assert.deepEqual(order, [1, 3])
  })
})

describe('fallback and wrap', () => {
  it('fallback answers handled errors with a value or a function of the error', async () => {
    assert.equal(await fallback('cached').execute(async () => Promise.reject(new Error('x'))), 'cached')
    assert.equal(
      await fallback((e) => `fb:${(e as Error).message}`).execute(() => Promise.reject(new Error('y'))),
      'fb:y',
    )
    await assert.rejects(
      fallback(1, { handle: [TypeError] }).execute(() => Promise.reject(new RangeError('z'))),
      /z/,
    )
  })

  it('wrap composes: a breaker outside a retry counts one failure per call', async () => {
    const clock = new FakeClock()
    const cb = circuitBreaker({ breaker: consecutive(2), clock })
    const r = retry({ maxAttempts: 3, backoff: constantBackoff(0), clock, budget: false })
    const policy = wrap(fallback('fallback'), cb, r)
    let calls = 0
    const failing = async () => {
      calls++
      throw new Error('down')
    }
    assert.equal(await policy.execute(failing), 'fallback')
    assert.equal(calls, 3)
    assert.equal(cb.state, 'closed')
    assert.equal(await policy.execute(failing), 'fallback')
    assert.equal(cb.state, 'open')
    calls = 0
    assert.equal(await policy.execute(failing), 'fallback')
    assert.equal(calls, 0, 'open circuit: not called')
  })

  it('the signal of an inner timeout reaches the function', async () => {
    const clock = new FakeClock()
    const policy = wrap(retry({ maxAttempts: 1, clock, budget: false }), timeout(10, { clock }))
    let seen: AbortSignal | undefined
    const p = policy.execute(({ signal }) => {
      seen = signal
      return new Promise(() => {})
    })
    await flush()
    clock.advance(10)
    await assert.rejects(p, (e) => isHotpathError(e, 'E_TIMEOUT'))
    assert.equal(seen?.aborted, true)
  })
})

describe('batchExecute', () => {
  it('keeps order, bounds concurrency, settles each task', async () => {
    let running = 0
    let peak = 0
    const tasks = Array.from({ length: 10 }, (_, i) => async () => {
      running++
      peak = Math.max(peak, running)
      await new Promise((r) => setImmediate(r))
      running--
      if (i === 3) throw new Error('three')
      return i * 2
    })
    const out = await batchExecute(tasks, { concurrency: 3 })
    assert.equal(peak, 3)
    assert.deepEqual(out[0], { status: 'fulfilled', value: 0 })
    assert.equal(out[3]?.status, 'rejected')
    assert.deepEqual(out[9], { status: 'fulfilled', value: 18 })
  })

  it('stopOnError skips tasks not yet started', async () => {
    const out = await batchExecute(
      [async () => Promise.reject(new Error('a')), async () => 1, async () => 2],
      { concurrency: 1, stopOnError: true },
    )
    assert.deepEqual(
      out.map((o) => o.status),
      ['rejected', 'skipped', 'skipped'],
    )
    await assert.rejects(batchExecute([async () => 1], { concurrency: 0 }), RangeError)
  })
})

describe('hedge', () => {
  it('sends a second attempt after the delay; the first answer wins and the other is aborted', async () => {
    const clock = new FakeClock()
    const h = hedge({ delay: 50, clock })
    const signals: AbortSignal[] = []
    const resolvers: Array<(v: string) => void> = []
    const p = h.execute(({ signal, attempt }) => {
      signals.push(signal)
      return new Promise<string>((r) => resolvers.push((v) => r(`${v}${attempt}`)))
    })
    await flush()
    assert.equal(resolvers.length, 1)
    clock.advance(50)
    await flush()
    assert.equal(resolvers.length, 2)
    resolvers[1]?.('second')
    assert.equal(await p, 'second2')
    assert.equal(signals[0]?.aborted, true)
    assert.equal(h.stats().hedgeWins, 1)
  })

  it('hedges at once when the first attempt fails early; rejects when all fail', async () => {
    const clock = new FakeClock()
    const h = hedge({ delay: 1000, clock, maxHedges: 1 })
    let calls = 0
    await assert.rejects(
      h.execute(async () => {
        calls++
        throw new Error(`fail${calls}`)
      }),
      /fail2/,
    )
    assert.equal(calls, 2)
  })
})
