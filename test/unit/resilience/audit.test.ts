// Regressions found by the resilience audit (no I/O).
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { isHotpathError } from '../../../src/errors.js'
import type { Backoff } from '../../../src/resilience/backoff.js'
import { circuitBreaker, consecutive, constantBackoff, retry } from '../../../src/resilience/index.js'
import { FakeClock } from '../../../src/time.js'

describe('circuitBreaker audit', () => {
  it('regression: calls refused during a half-open trial advanced the halfOpenAfter backoff, so the next open lasted far longer', async () => {
    const clock = new FakeClock()
    // a backoff over successive re-opens that grows from the previous wait (as decorrelated jitter does)
    const seen: number[] = []
    const backoff: Backoff = {
      next(attempt, previous) {
        seen.push(attempt)
        return previous > 0 ? previous * 2 : 1000
      },
    }
    const cb = circuitBreaker({ breaker: consecutive(1), halfOpenAfter: backoff, clock })
    await assert.rejects(
      cb.execute(async () => {
        throw new Error('down')
      }),
      /down/,
    )
    assert.equal(cb.snapshot().openUntil - clock.now(), 1000)
    clock.advance(1000)
    let failTrial: (e: Error) => void = () => {}
    const trial = cb.execute(
      () =>
        new Promise((_resolve, reject) => {
          failTrial = reject
        }),
    )
    // five calls arrive while the trial runs: each is refused
    for (let i = 0; i < 5; i++) {
      await assert.rejects(
        cb.execute(async () => 'x'),
        (e) => isHotpathError(e, 'E_CIRCUIT_OPEN'),
      )
    }
    failTrial(new Error('still down'))
    await assert.rejects(trial, /still down/)
    // the second open's wait is the backoff's second step, whatever traffic came meanwhile
    assert.equal(cb.snapshot().openUntil - clock.now(), 2000)
    assert.deepEqual(seen, [1, 2])
  })
})

describe('circuitBreaker initialState audit', () => {
  it('regression: initialState was not checked (a misspelt key, a non-numeric openUntil or an unknown state was silently a closed circuit)', () => {
    const until = Date.now() + 60_000
    assert.throws(
      () => circuitBreaker({ initialState: { state: 'open', openUntil: until, reopen: 2 } as never }),
      (e: Error) => e instanceof TypeError && /"reopen"/.test(e.message) && /"reopens"/.test(e.message),
    )
    assert.throws(
      () => circuitBreaker({ initialState: { state: 'open', openUntil: 'soon', reopens: 1 } as never }),
      (e: Error) => /openUntil/.test(e.message) && /soon/.test(e.message),
    )
    assert.throws(
      () => circuitBreaker({ initialState: { state: 'opened', openUntil: until, reopens: 1 } as never }),
      (e: Error) => /state/.test(e.message) && /opened/.test(e.message),
    )
    assert.throws(
      () => circuitBreaker({ initialState: { state: 'open', openUntil: until, reopens: -1 } }),
      (e: Error) => /reopens/.test(e.message) && /-1/.test(e.message),
    )
    // a real snapshot still restores
    const cb = circuitBreaker({ initialState: { state: 'open', openUntil: until, reopens: 1 } })
    assert.equal(cb.state, 'open')
    assert.deepEqual(circuitBreaker({ initialState: circuitBreaker().snapshot() }).state, 'closed')
  })
})

describe('retry audit', () => {
  it('regression: an abort during the backoff gave up without a giveUp event and without counting a failure', async () => {
    const clock = new FakeClock()
    const r = retry({ maxAttempts: 5, backoff: constantBackoff(1000), budget: false, clock })
    const giveUps: Array<{ attempts: number; reason: string; error: unknown }> = []
    r.on('giveUp', (e) => giveUps.push(e))
    const ac = new AbortController()
    const failure = new Error('flaky')
    let attempts = 0
    const p = r.execute(async () => {
      attempts++
      throw failure
    }, ac.signal)
    while (attempts === 0) await new Promise((resolve) => setImmediate(resolve))
    await new Promise((resolve) => setImmediate(resolve))
    ac.abort()
    await assert.rejects(p, (e) => isHotpathError(e, 'E_ABORTED'))
    assert.equal(attempts, 1)
    assert.deepEqual(giveUps, [{ attempts: 1, reason: 'aborted', error: failure }])
    const s = r.stats()
    assert.equal(s.calls, 1)
    assert.equal(s.successes + s.failures, 1)
  })
})
