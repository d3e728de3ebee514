// Regression: adaptiveLimit(...).execute(fn, options) never looked at its per-call options, so a
// misspelt key, a signal that is not an AbortSignal or a bare priority string passed silently
// (the call ran, in the default class, with a bogus ctx.signal).
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { adaptiveLimit } from '../../../src/resilience/index.js'

/** execute() rejects with a TypeError matching `message`, without running `fn` or taking a slot. */
async function refused(options: unknown, message: RegExp): Promise<void> {
  const limit = adaptiveLimit({ priorities: { live: 0.9, batch: 0.1 } })
  let ran = false
  await assert.rejects(
    limit.execute(() => {
      ran = true
      return 'ok'
    }, options as never),
    (e: Error) => {
      assert.ok(e instanceof TypeError, String(e))
      assert.match(e.message, message)
      return true
    },
  )
  assert.equal(ran, false, 'fn ran despite bad options')
  assert.equal(limit.inFlight, 0)
  assert.equal(limit.stats().calls, 0, 'a refused call was counted as a call')
}

describe('adaptiveLimit execute() options', () => {
  it('regression: execute() accepted unknown per-call options silently', async () => {
    await refused(
      { priorty: 'live' },
      /adaptiveLimit execute options: unknown option "priorty"\. Did you mean "priority"\?/,
    )
    await refused({ timeout: 100 }, /unknown option "timeout"\. Valid options: priority, signal/)
  })

  it('regression: execute() accepted a signal that is not an AbortSignal', async () => {
    await refused({ signal: 'abort' }, /signal must be an AbortSignal; received string/)
    await refused({ signal: { aborted: false } }, /signal must be an AbortSignal; received object/)
    await refused({ signal: null }, /signal must be an AbortSignal; received null/)
  })

  it('regression: execute() took a non-object options argument (a bare priority string) as no options', async () => {
    await refused('batch', /adaptiveLimit execute options must be an object; received string/)
    await refused(42, /must be an object; received number/)
  })

  it('regression: execute() with a non-string priority said `priority "1" is not one of`, not what it expects', async () => {
    await refused({ priority: 1 }, /priority must be a string; received number/)
  })

  it('valid options still pass: a class, a real signal, undefined values, no options', async () => {
    const limit = adaptiveLimit({ priorities: { live: 0.9, batch: 0.1 } })
    const ac = new AbortController()
    assert.equal(
      await limit.execute((ctx) => ctx.signal === ac.signal, { priority: 'batch', signal: ac.signal }),
      true,
    )
    assert.equal(await limit.execute(() => 1, { priority: undefined, signal: undefined }), 1)
    assert.equal(await limit.execute(() => 2), 2)
    assert.equal(await limit.execute(() => 3, undefined), 3)
    await assert.rejects(
      limit.execute(() => 4, { priority: 'bulk' }),
      /priority "bulk" is not one of: live, batch/,
    )
  })
})

describe('adaptiveLimit execute() fn', () => {
  it('regression: execute() with a fn that is not a function counted a dropped call and shrank the limit', async () => {
    const limit = adaptiveLimit({ priorities: { live: 0.9, batch: 0.1 } })
    const before = limit.limit
    for (let i = 0; i < 20; i++) {
      await assert.rejects(limit.execute('not a function' as never), (e: Error) => {
        assert.ok(e instanceof TypeError, String(e))
        assert.match(e.message, /execute\(fn\): fn must be a function; received string/)
        return true
      })
    }
    assert.equal(limit.limit, before, 'the limit moved for calls that never ran')
    assert.equal(limit.inFlight, 0)
    assert.equal(limit.stats().calls, 0, 'a refused call was counted as a call')
  })
})
