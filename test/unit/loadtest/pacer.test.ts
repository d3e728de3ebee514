import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { precisionClock } from '../../../src/loadtest/clock.js'
import { startPacer } from '../../../src/loadtest/pacer.js'

/** A real pacer thread; resolves `wakes` with the clock time of each wake-up. */
async function started(): Promise<{
  pacer: Awaited<ReturnType<typeof startPacer>>
  wakes: number[]
  next: () => Promise<number>
  failures: Error[]
}> {
  const wakes: number[] = []
  const failures: Error[] = []
  let waiting: ((t: number) => void) | undefined
  const pacer = await startPacer({
    onWake: () => {
      const t = precisionClock.now()
      wakes.push(t)
      waiting?.(t)
    },
    onFail: (err) => failures.push(err),
  })
  const next = () => new Promise<number>((resolve) => (waiting = resolve))
  return { pacer, wakes, next, failures }
}

describe('pacer thread', () => {
  test('wakes the loop once for an armed time, never before it', async () => {
    const { pacer, wakes, next, failures } = await started()
    try {
      for (const ahead of [3, 0.4, 12]) {
        const at = precisionClock.now() + ahead
        const woke = next()
        pacer.arm(at)
        const t = await woke
        assert.ok(t >= at, `woke ${at - t} ms before the armed time`)
      }
      await new Promise((r) => setTimeout(r, 20))
      assert.equal(wakes.length, 3, 'one wake-up per armed time')
      assert.deepEqual(failures, [])
    } finally {
      await pacer.close()
    }
  })

  test('arming again replaces the armed time: one wake-up, for the later time', async () => {
    const { pacer, wakes, next } = await started()
    try {
      const now = precisionClock.now()
      const woke = next()
      pacer.arm(now + 5)
      pacer.arm(now + 15)
      const t = await woke
      assert.ok(t >= now + 15, 'the replaced time did not wake the loop')
      await new Promise((r) => setTimeout(r, 20))
      assert.equal(wakes.length, 1)
    } finally {
      await pacer.close()
    }
  })

  test('close() ends the thread: an arm after it wakes nothing and is not a failure', async () => {
    const { pacer, wakes, failures } = await started()
    await pacer.close()
    pacer.arm(precisionClock.now() + 1)
    await new Promise((r) => setTimeout(r, 20))
    assert.equal(wakes.length, 0)
    assert.deepEqual(failures, [])
    await pacer.close()
  })
})
