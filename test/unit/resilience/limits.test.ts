import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { isHotpathError } from '../../../src/errors.js'
import { adaptiveLimit, createPool, createRateLimiter, rateLimited } from '../../../src/resilience/index.js'
import { FakeClock } from '../../../src/time.js'

const flush = async () => {
  for (let i = 0; i < 5; i++) await new Promise<void>((r) => setImmediate(r))
}

describe('token bucket (memory)', () => {
  it('allows a burst of limit, then refills continuously', () => {
    const clock = new FakeClock()
    const rl = createRateLimiter({ limit: 10, window: 1000, clock })
    for (let i = 0; i < 10; i++) assert.equal(rl.consumeSync('k').allowed, true)
    const denied = rl.consumeSync('k')
    assert.equal(denied.allowed, false)
    assert.equal(denied.remaining, 0)
    assert.equal(denied.retryAfterMs, 100, 'one token every 100ms')
    clock.advance(100)
    assert.equal(rl.consumeSync('k').allowed, true)
    assert.equal(rl.consumeSync('k').allowed, false)
    clock.advance(10_000)
    const full = rl.consumeSync('k')
    assert.equal(full.remaining, 9, 'refill is capped at the limit')
    assert.equal(rl.consumeSync('other').remaining, 9, 'keys are independent')
  })

  it('charges cost per call', () => {
    const rl = createRateLimiter({ limit: 10, window: 1000, clock: new FakeClock() })
    assert.equal(rl.consumeSync('k', 7).allowed, true)
    const d = rl.consumeSync('k', 4)
    assert.equal(d.allowed, false)
    assert.equal(rl.consumeSync('k', 3).allowed, true)
  })
})

describe('GCRA (memory)', () => {
  it('admits exactly limit per window at the boundary, then one per interval', () => {
    const clock = new FakeClock()
    const rl = createRateLimiter({ limit: 5, window: 1000, algorithm: 'gcra', clock })
    const first = rl.consumeSync('k')
    assert.equal(first.allowed, true)
    assert.equal(first.remaining, 4)
    for (let i = 0; i < 4; i++) assert.equal(rl.consumeSync('k').allowed, true)
    const sixth = rl.consumeSync('k')
    assert.equal(sixth.allowed, false)
    assert.equal(sixth.retryAfterMs, 200, 'the next slot opens one interval (1000/5) later')
    clock.advance(199)
    assert.equal(rl.consumeSync('k').allowed, false)
    clock.advance(1)
    assert.equal(rl.consumeSync('k').allowed, true, 'exactly at the boundary')
    assert.equal(rl.consumeSync('k').allowed, false)
    clock.advance(1000)
    assert.equal(rl.consumeSync('k').remaining, 4, 'idle for a window: full allowance again')
  })

  it('a refused call does not consume', () => {
    const clock = new FakeClock()
    const rl = createRateLimiter({ limit: 2, window: 1000, algorithm: 'gcra', clock })
    rl.consumeSync('k')
    rl.consumeSync('k')
    for (let i = 0; i < 10; i++) assert.equal(rl.consumeSync('k').allowed, false)
    clock.advance(500)
    assert.equal(rl.consumeSync('k').allowed, true)
  })
})

describe('rate limiter surface', () => {
  it('headers follow the RateLimit drafts and add Retry-After on refusal', () => {
    const rl = createRateLimiter({ limit: 2, window: '1m', name: 'api', clock: new FakeClock() })
    const ok = rl.consumeSync('k')
    assert.deepEqual(rl.headers(ok), { 'RateLimit-Policy': '"api";q=2;w=60', RateLimit: '"api";r=1;t=30' })
    rl.consumeSync('k')
    const no = rl.consumeSync('k')
    assert.equal(rl.headers(no)['Retry-After'], '30')
  })

  it('rateLimited() wraps a function and refuses with E_RATE_LIMITED and retryAfter', async () => {
    const rl = createRateLimiter({ limit: 1, window: 1000, clock: new FakeClock() })
    const send = rateLimited(async (to: string) => `sent to ${to}`, rl, { key: (to) => to })
    assert.equal(await send('a'), 'sent to a')
    await assert.rejects(
      send('a'),
      (e) => isHotpathError(e, 'E_RATE_LIMITED') && (e as { retryAfter: number }).retryAfter === 1000,
    )
    assert.equal(await send('b'), 'sent to b')
  })

  it('bounds the keys it remembers', () => {
    const rl = createRateLimiter({ limit: 1, window: 1000, maxKeys: 100, clock: new FakeClock() })
    for (let i = 0; i < 10_000; i++) rl.consumeSync(`k${i}`)
    assert.ok(rl.stats().keys <= 100)
  })

  it('rejects bad options and input', async () => {
    assert.throws(() => createRateLimiter({ limit: 0, window: 1000 }), /limit/)
    assert.throws(() => createRateLimiter({ limit: 1, window: 'x' as never }), /window/)
    assert.throws(() => createRateLimiter({ limit: 1, window: 1, algorithm: 'leaky' as never }), /algorithm/)
    const rl = createRateLimiter({ limit: 1, window: 1000 })
    await assert.rejects(rl.consume('k', -1), RangeError)
    await assert.rejects(rl.consume(5 as never), TypeError)
  })
})

describe('createPool', () => {
  it('lends, reuses, creates up to max and queues borrowers with a timeout', async () => {
    const clock = new FakeClock()
    let made = 0
    const pool = createPool({ create: () => ({ id: ++made }), max: 2, acquireTimeout: 100, clock })
    const a = await pool.acquire()
    const b = await pool.acquire()
    assert.notEqual(a, b)
    const waiting = pool.acquire()
    await flush()
    assert.equal(pool.stats().waiting, 1)
    pool.release(a)
    assert.equal(await waiting, a)
    const timedOut = pool.acquire()
    clock.advance(100)
    await assert.rejects(timedOut, (e) => isHotpathError(e, 'E_ACQUIRE_TIMEOUT'))
    assert.equal(made, 2)
    assert.throws(() => pool.release({ id: 99 }), /did not lend/)
  })

  it('validates on borrow and replaces broken resources', async () => {
    const destroyed: number[] = []
    let made = 0
    const pool = createPool({
      create: () => ({ id: ++made, healthy: true }),
      destroy: (r) => {
        destroyed.push(r.id)
      },
      validate: (r) => r.healthy,
      max: 1,
    })
    const r = await pool.acquire()
    r.healthy = false
    pool.release(r)
    const next = await pool.acquire()
    assert.equal(next.id, 2)
    assert.deepEqual(destroyed, [1])
    pool.release(next)
    await assert.rejects(
      pool.use(() => {
        throw new Error('broke it')
      }),
    )
    assert.deepEqual(destroyed, [1, 2], 'a resource whose user threw is destroyed, not reused')
  })

  it('destroys idle resources above min after idleTimeout, and drains', async () => {
    const clock = new FakeClock()
    const destroyed: string[] = []
    let n = 0
    const pool = createPool({
      create: () => `r${++n}`,
      destroy: (r) => void destroyed.push(r),
      min: 1,
      max: 3,
      idleTimeout: 1000,
      clock,
    })
    await flush()
    const rs = await Promise.all([pool.acquire(), pool.acquire(), pool.acquire()])
    for (const r of rs) pool.release(r)
    assert.equal(pool.stats().idle, 3)
    clock.advance(1000)
    await flush()
    assert.equal(pool.stats().size, 1)
    await pool.drain()
    assert.equal(pool.stats().size, 0)
    await assert.rejects(pool.acquire(), (e) => isHotpathError(e, 'E_POOL_DRAINING'))
  })
})

describe('adaptiveLimit', () => {
  it('priority shares: batch can use idle capacity but live keeps its guaranteed share', async () => {
    const lim = adaptiveLimit({
      initialLimit: 10,
      priorities: { live: 0.9, batch: 0.1 },
      clock: new FakeClock(),
    })
    const gates: Array<() => void> = []
    const hold = () => new Promise<void>((r) => gates.push(r))
    const batch = Array.from({ length: 10 }, () => lim.execute(hold, { priority: 'batch' }))
    await assert.rejects(lim.execute(hold, { priority: 'batch' }), (e) =>
      isHotpathError(e, 'E_LIMIT_EXCEEDED'),
    )
    const live = Array.from({ length: 9 }, () => lim.execute(hold, { priority: 'live' }))
    assert.equal(lim.inFlight, 19, 'live got in under its 90% share although the total limit was reached')
    await assert.rejects(lim.execute(hold, { priority: 'live' }), (e) =>
      isHotpathError(e, 'E_LIMIT_EXCEEDED'),
    )
    for (const g of gates.splice(0)) g()
    await Promise.all([...batch, ...live])
    await assert.rejects(lim.execute(hold, { priority: 'nope' }), /priority "nope"/)
  })

  for (const algorithm of ['vegas', 'gradient2'] as const) {
    it(`${algorithm}: the limit shrinks when latency rises and grows back when it falls`, async () => {
      const clock = new FakeClock()
      const lim = adaptiveLimit({ algorithm, initialLimit: 20, maxLimit: 200, clock })
      const run = async (latency: number, rounds: number) => {
        for (let r = 0; r < rounds; r++) {
          const gates: Array<() => void> = []
          const calls = Array.from({ length: Math.floor(lim.limit) }, () =>
            lim.execute(() => new Promise<void>((res) => gates.push(res))).catch(() => {}),
          )
          clock.advance(latency)
          for (const g of gates.splice(0)) g()
          await Promise.all(calls)
        }
      }
      await run(10, 50)
      const healthy = lim.limit
      // right after latency jumps tenfold (gradient2 then adopts the new level as normal)
      await run(100, 3)
      const loaded = lim.limit
      assert.ok(loaded < healthy, `${algorithm}: ${loaded} should be below ${healthy}`)
      await run(10, 200)
      assert.ok(lim.limit > loaded, `${algorithm}: recovers above ${loaded} (now ${lim.limit})`)
    })
  }
})
