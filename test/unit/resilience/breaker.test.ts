import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { isHotpathError } from '../../../src/errors.js'
import {
  circuitBreaker,
  consecutive,
  countWindow,
  exponentialBackoff,
  sampling,
} from '../../../src/resilience/index.js'
import { FakeClock } from '../../../src/time.js'

const ok = async () => 'ok'
const boom = async () => {
  throw new Error('boom')
}
const isOpen = (e: unknown) => isHotpathError(e, 'E_CIRCUIT_OPEN')

describe('circuitBreaker', () => {
  it('consecutive: opens after n failures, fails fast, half-opens after the wait, closes on a trial success', async () => {
    const clock = new FakeClock()
    const cb = circuitBreaker({ breaker: consecutive(3), halfOpenAfter: 1000, clock })
    const states: string[] = []
    cb.on('stateChange', (e) => states.push(`${e.from}->${e.to}`))
    for (let i = 0; i < 2; i++) await assert.rejects(cb.execute(boom), /boom/)
    assert.equal(cb.state, 'closed')
    await cb.execute(ok) // a success resets the consecutive count
    for (let i = 0; i < 3; i++) await assert.rejects(cb.execute(boom), /boom/)
    assert.equal(cb.state, 'open')
    let called = false
    await assert.rejects(
      cb.execute(async () => {
        called = true
      }),
      (e) => isOpen(e) && (e as { retryAfter: number }).retryAfter === 1000,
    )
    assert.equal(called, false)
    clock.advance(999)
    await assert.rejects(cb.execute(ok), isOpen)
    clock.advance(1)
    assert.equal(cb.state, 'half-open')
    assert.equal(await cb.execute(ok), 'ok')
    assert.equal(cb.state, 'closed')
    assert.deepEqual(states, ['closed->open', 'open->half-open', 'half-open->closed'])
  })

  it('half-open admits exactly one trial; others fail fast; a failed trial reopens', async () => {
    const clock = new FakeClock()
    const cb = circuitBreaker({ breaker: consecutive(1), halfOpenAfter: 100, clock })
    await assert.rejects(cb.execute(boom))
    clock.advance(100)
    let release!: () => void
    const trial = cb.execute(() => new Promise<void>((r) => (release = r)))
    await assert.rejects(cb.execute(ok), isOpen)
    await assert.rejects(cb.execute(ok), isOpen)
    release()
    await trial
    assert.equal(cb.state, 'closed')
    await assert.rejects(cb.execute(boom))
    clock.advance(100)
    await assert.rejects(cb.execute(boom), /boom/)
    assert.equal(cb.state, 'open')
    assert.equal(cb.stats().opens, 3)
  })

  it('halfOpenAfter as a backoff grows the wait across re-opens and resets on close', async () => {
    const clock = new FakeClock()
    const cb = circuitBreaker({
      breaker: consecutive(1),
      halfOpenAfter: exponentialBackoff({ initial: 100, factor: 2, jitter: 'none' }),
      clock,
    })
    await assert.rejects(cb.execute(boom))
    clock.advance(100)
    await assert.rejects(cb.execute(boom)) // trial fails: next wait 200
    clock.advance(199)
    await assert.rejects(cb.execute(ok), isOpen)
    clock.advance(1)
    assert.equal(await cb.execute(ok), 'ok')
    await assert.rejects(cb.execute(boom))
    clock.advance(100)
    assert.equal(await cb.execute(ok), 'ok', 'after closing, the backoff starts over')
  })

  it('countWindow: opens at the failure ratio once minimumCalls is reached', async () => {
    const cb = circuitBreaker({ breaker: countWindow({ size: 10, threshold: 0.5, minimumCalls: 6 }) })
    for (let i = 0; i < 3; i++) await cb.execute(ok)
    for (let i = 0; i < 2; i++) await assert.rejects(cb.execute(boom), /boom/)
    assert.equal(cb.state, 'closed', '2 of 5 failed, below minimum calls')
    await assert.rejects(cb.execute(boom), /boom/)
    assert.equal(cb.state, 'open', '3 of 6 failed = 50%')
  })

  it('sampling: counts only the last duration', async () => {
    const clock = new FakeClock()
    const cb = circuitBreaker({
      breaker: sampling({ duration: 1000, threshold: 0.5, minimumCalls: 4 }),
      clock,
    })
    for (let i = 0; i < 3; i++) await assert.rejects(cb.execute(boom))
    clock.advance(1500) // the failures age out
    for (let i = 0; i < 3; i++) await cb.execute(ok)
    await assert.rejects(cb.execute(boom))
    assert.equal(cb.state, 'closed', '1 of 4 in the window')
    await assert.rejects(cb.execute(boom))
    assert.equal(cb.state, 'closed', '2 of 5 is below 50%')
    await assert.rejects(cb.execute(boom))
    assert.equal(cb.state, 'open', '3 of 6 = 50%')
  })

  it('ignores errors it does not handle', async () => {
    class Business extends Error {}
    const cb = circuitBreaker({ breaker: consecutive(1), handle: (e) => !(e instanceof Business) })
    await assert.rejects(
      cb.execute(async () => {
        throw new Business('no')
      }),
    )
    assert.equal(cb.state, 'closed')
  })

  it('isolate() holds it open; snapshot() restores across instances', async () => {
    const clock = new FakeClock()
    const cb = circuitBreaker({ clock, halfOpenAfter: 1000, breaker: consecutive(1) })
    const release = cb.isolate()
    await assert.rejects(cb.execute(ok), isOpen)
    release()
    assert.equal(cb.state, 'closed')
    await assert.rejects(cb.execute(boom))
    const snap = cb.snapshot()
    assert.equal(snap.state, 'open')
    const restored = circuitBreaker({ clock, initialState: snap })
    await assert.rejects(restored.execute(ok), isOpen)
    clock.advance(1000)
    assert.equal(await restored.execute(ok), 'ok')
  })

  it('rejects bad options naming them', () => {
    assert.throws(() => consecutive(0), /threshold/)
    assert.throws(() => countWindow({ threshold: 2 }), /threshold/)
    assert.throws(() => circuitBreaker({ halfOpenAfter: 'soon' as never }), /halfOpenAfter/)
    assert.throws(() => circuitBreaker({ halfOpenTrials: 0 }), /halfOpenTrials/)
  })
})
