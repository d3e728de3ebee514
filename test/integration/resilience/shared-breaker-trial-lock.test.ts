// Regression: a shared breaker's failed half-open trial left its Redis trial lock (`<key>:trial`,
// taken for the wait of the open it ended) in place: when the reopen's wait was shorter (a
// jittered backoff steps down as often as up), every other instance was refused its trial until the
// lock's TTL, not the breaker's backoff. Real Redis at 127.0.0.1:6379, own key prefix.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import {
  type Backoff,
  type CircuitBreaker,
  circuitBreaker,
  consecutive,
} from '../../../src/resilience/index.js'
import { redisScope } from '../../helpers/services.js'

const scope = redisScope()
const prefix = scope.prefix('cb-trial-lock')
const redis = scope.client()
before(() => redis.ping())
after(() => scope.close())

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Polls `cond` (real time, bounded) so a broken build fails instead of hanging. */
async function eventually(cond: () => boolean, rounds = 300): Promise<boolean> {
  for (let i = 0; i < rounds && !cond(); i++) await sleep(10)
  return cond()
}

const FIRST_WAIT = 1000
const REOPEN_WAIT = 50
/** The first open waits 1 s, every later one 50 ms (as a jittered backoff may well draw). */
const stepDown: Backoff = { next: (attempt) => (attempt === 1 ? FIRST_WAIT : REOPEN_WAIT) }

function instance(key: string): CircuitBreaker {
  return circuitBreaker({
    name: 'payments',
    breaker: consecutive(1),
    halfOpenAfter: stepDown,
    shared: { redis, key },
  })
}

const fail = async (): Promise<never> => {
  throw new Error('down')
}

describe('shared breaker: a failed half-open trial', () => {
  it('regression: a failed trial kept its Redis lock until the TTL, so other instances could not try again after the backoff', async () => {
    const key = `${prefix}circuit`
    const a = instance(key)
    const b = instance(key)
    try {
      await sleep(100) // both subscribers are listening
      await assert.rejects(a.execute(fail), /down/)
      assert.equal(a.state, 'open')
      assert.equal(await eventually(() => b.state === 'open'), true, 'b adopted the open')
      const firstUntil = b.snapshot().openUntil

      // a runs the half-open trial after the first wait; it fails, so the circuit reopens for 50 ms
      assert.equal(await eventually(() => a.state === 'half-open'), true)
      await assert.rejects(a.execute(fail), /down/)
      assert.equal(a.state, 'open')
      const ttl = await redis.pttl(`${key}:trial`)
      assert.ok(ttl <= REOPEN_WAIT, `the trial lock outlives the reopen: PTTL ${ttl} ms > ${REOPEN_WAIT} ms`)
      assert.equal(await eventually(() => b.snapshot().openUntil > firstUntil), true, 'b adopted the reopen')

      // the reopen's wait is over (well before the lock's first TTL): b may run the next trial
      await sleep(REOPEN_WAIT + 100)
      assert.equal(b.state, 'half-open')
      assert.equal(await b.execute(async () => 'paid'), 'paid')
      assert.equal(b.state, 'closed')
      assert.equal(await eventually(() => a.state === 'closed'), true, 'a adopted the close')
    } finally {
      a.dispose()
      b.dispose()
    }
  })

  it('regression: a trial that failed with an error handle does not count kept the lock until its TTL', async () => {
    // `handle` counts only 'down' errors: a 'not found' from the trial is no verdict on the
    // service. The instance that ran it held the trial lock for the open's whole wait (1 s), and
    // every other instance refused its calls (E_CIRCUIT_OPEN) until then
    const key = `${prefix}circuit3`
    const make = () =>
      circuitBreaker({
        name: 'payments',
        breaker: consecutive(1),
        halfOpenAfter: stepDown,
        handle: (err) => (err as Error).message === 'down',
        shared: { redis, key },
      })
    const a = make()
    const b = make()
    try {
      await sleep(100)
      await assert.rejects(a.execute(fail), /down/)
      assert.equal(await eventually(() => b.state === 'open'), true)
      assert.equal(await eventually(() => a.state === 'half-open' && b.state === 'half-open'), true)
      await assert.rejects(
        a.execute(async () => {
          throw new Error('not found')
        }),
        /not found/,
      )
      assert.equal(a.state, 'half-open', 'no verdict: still half-open')
      let gone = false
      for (let i = 0; i < 50 && !gone; i++) {
        gone = (await redis.exists(`${key}:trial`)) === 0
        if (!gone) await sleep(10)
      }
      assert.equal(gone, true, 'the trial lock was given back')
      assert.equal(await b.execute(async () => 'paid'), 'paid', 'b runs its trial at once')
      assert.equal(b.state, 'closed')
      assert.equal(await eventually(() => a.state === 'closed'), true)
    } finally {
      a.dispose()
      b.dispose()
    }
  })

  it('a trial that succeeds still closes every instance and clears the lock', async () => {
    const key = `${prefix}circuit2`
    const a = instance(key)
    const b = instance(key)
    try {
      await sleep(100)
      await assert.rejects(a.execute(fail), /down/)
      assert.equal(await eventually(() => b.state === 'open'), true)
      assert.equal(await eventually(() => a.state === 'half-open'), true)
      assert.equal(await a.execute(async () => 'ok'), 'ok')
      assert.equal(await eventually(() => b.state === 'closed'), true)
      assert.equal(await redis.exists(`${key}:trial`, key), 0)
    } finally {
      a.dispose()
      b.dispose()
    }
  })
})
