// Regressions of timeout(): it added an abort listener to the caller's signal on every call and
// never removed it (1,000 calls -> 1,000 listeners, also through wrap(retry, timeout)); it held
// every finished call until the oldest deadline passed; and durations above 2^31-1 ms misfired
// (timeout('30d') re-armed every millisecond).
import assert from 'node:assert/strict'
import { getEventListeners } from 'node:events'
import { describe, it } from 'node:test'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { retry, timeout, wrap } from '../../../src/resilience/index.js'
import { FakeClock } from '../../../src/time.js'

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

const tick = () => new Promise<void>((r) => setImmediate(r))

describe('timeout() releases what a settled call held', () => {
  it("1,000 calls that read the signal leave no listener on the caller's signal", async () => {
    const clock = new FakeClock()
    const policy = timeout('30s', { clock })
    const caller = new AbortController()
    for (let i = 0; i < 1000; i++) {
      await policy.execute(async (ctx) => {
        assert.equal(ctx.signal.aborted, false)
        return i
      }, caller.signal)
    }
    assert.equal(getEventListeners(caller.signal, 'abort').length, 0)
  })

  it('the same through wrap(retry, timeout), with failing attempts', async () => {
    const clock = new FakeClock()
    const policy = wrap(
      retry({ maxAttempts: 2, backoff: { next: () => 0 }, budget: false, clock }),
      timeout('30s', { clock }),
    )
    const caller = new AbortController()
    let n = 0
    for (let i = 0; i < 1000; i++) {
      await policy.execute(async (ctx) => {
        void ctx.signal
        if (n++ % 2 === 0) throw new Error('transient')
        return i
      }, caller.signal)
    }
    assert.equal(getEventListeners(caller.signal, 'abort').length, 0)
  })

  it('a timed-out call removes its listener too, and the caller can still abort later calls', async () => {
    const clock = new FakeClock()
    const policy = timeout(100, { clock })
    const caller = new AbortController()
    const hung = policy.execute((ctx) => new Promise(() => void ctx.signal), caller.signal)
    clock.advance(100)
    await assert.rejects(hung, { code: 'E_TIMEOUT' })
    assert.equal(getEventListeners(caller.signal, 'abort').length, 0)
    let seen: AbortSignal | undefined
    const next = policy.execute(
      (ctx) =>
        new Promise((_, reject) => {
          seen = ctx.signal
          ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason))
        }),
      caller.signal,
    )
    caller.abort(new Error('caller gave up'))
    await assert.rejects(next, /caller gave up/)
    assert.equal(seen?.aborted, true)
  })

  it('finished calls are not retained while an older call is still pending', async () => {
    const clock = new FakeClock()
    const policy = timeout('30s', { clock })
    // the oldest call hangs: its deadline is 30 s away
    const hung = policy.execute(() => new Promise(() => {}))
    const refs: Array<WeakRef<object>> = []
    for (let i = 0; i < 2000; i++) {
      await policy.execute(async (ctx) => {
        refs.push(new WeakRef(ctx))
        return i
      })
    }
    assert.equal(policy.stats().pending, 1)
    await tick()
    gc()
    await tick()
    gc()
    const alive = refs.filter((r) => r.deref() !== undefined).length
    assert.ok(alive < 10, `${alive} of 2000 finished calls are still held in memory`)
    clock.advance(30_000)
    await assert.rejects(hung, { code: 'E_TIMEOUT' })
  })
})

describe('durations a timer cannot hold', () => {
  it("timeout('30d') is refused with a RangeError naming the option", () => {
    assert.throws(
      () => timeout('30d'),
      (e: Error) => e instanceof RangeError && /timeout duration/.test(e.message),
    )
    assert.throws(() => timeout(2 ** 31), RangeError)
  })

  it("timeout('24d') (under the limit) arms one timer, not one per millisecond", async () => {
    const clock = new FakeClock()
    const policy = timeout('24d', { clock })
    const p = policy.execute(() => new Promise((r) => setImmediate(r, 'ok')))
    assert.equal(clock.pending, 1)
    assert.equal(await p, 'ok')
  })
})
