import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import {
  type Pacing,
  PRECISE_MAX_RATE,
  resolvePacing,
  runOpenModel,
  SPIN_BACKOFF_MS,
  SPIN_HELD_MS,
  SPIN_WINDOW_MS,
} from '../../../src/loadtest/open-model.js'
import type { PacerCallbacks } from '../../../src/loadtest/pacer.js'
import type { RateStage } from '../../../src/loadtest/schedule.js'
import { Stats } from '../../../src/loadtest/stats.js'
import { FakeClock } from '../../../src/time.js'

/** One send: its intended and actual time (ms from the start) and the loop turn it left on. */
type Sent = { intended: number; at: number; tick: number }

/** A fake clock with Node's timer granularity: a delay is rounded up to whole milliseconds, >= 1. */
class CoarseClock extends FakeClock {
  override setTimeout(fn: () => void, ms: number): unknown {
    return super.setTimeout(fn, Math.max(1, Math.ceil(ms)))
  }
}

/**
 * An open-model run on a fake clock whose event loop turns every `turnMs`: each turn moves the
 * clock on (firing due timers) and runs the callbacks queued for the next turn (`setImmediate`).
 * `stallAt` (ms from the start) makes one turn `stallMs` long: the generator held up.
 */
async function paced(
  pacing: Pacing,
  stages: RateStage[],
  turnMs: number,
  stall?: { at: number; ms: number },
  pacerDiesAt?: number,
): Promise<{ sends: Sent[]; turns: number; stats: Stats; wakes: number }> {
  const clock = new CoarseClock()
  const origin = clock.now()
  const stats = new Stats()
  const sends: Sent[] = []
  let queue: Array<() => void> = []
  let ticks = 0
  let turns = 0
  // The fake pacer thread: wakes the loop on the first turn at or after the armed time.
  let armed: number | undefined
  let wakes = 0
  let callbacks: PacerCallbacks | undefined
  let pacerClosed = false
  const done = runOpenModel({
    stages,
    clock,
    stats,
    maxInFlight: 100_000,
    lateAfterMs: 1,
    pacing,
    immediate: (fn) => {
      turns++
      queue.push(() => {
        ticks++
        fn()
      })
    },
    iteration: async (intended) => {
      sends.push({ intended: intended - origin, at: clock.now() - origin, tick: ticks })
    },
    startPacer: async (cb) => {
      callbacks = cb
      return {
        arm: (at) => {
          if (!pacerClosed) armed = at
        },
        close: async () => {
          pacerClosed = true
        },
      }
    },
  })
  // runOpenModel awaits the pacer's start before its first send.
  for (let i = 0; i < 5; i++) await Promise.resolve()
  const end = origin + stages.reduce((sum, s) => sum + s.durationMs, 0) + 10
  let stalled = false
  while (clock.now() < end) {
    const stallNow = stall !== undefined && !stalled && clock.now() - origin >= stall.at
    if (stallNow) stalled = true
    clock.advance(stallNow ? (stall?.ms ?? 0) : turnMs)
    const run = queue
    queue = []
    for (const fn of run) fn()
    if (pacerDiesAt !== undefined && !pacerClosed && clock.now() - origin >= pacerDiesAt) {
      pacerClosed = true
      armed = undefined
      callbacks?.onFail(new Error('pacer thread exited (code 1)'))
    }
    if (armed !== undefined && clock.now() >= armed) {
      armed = undefined
      wakes++
      ticks++
      callbacks?.onWake()
    }
  }
  await clock.tick(1)
  await done
  return { sends, turns, stats, wakes }
}

describe('open-model pacing on a fake clock', () => {
  test('spin: every send at 2,000/s leaves within one loop turn of its intended time, never before', async () => {
    const turn = 0.02
    const { sends, stats } = await paced('spin', [{ durationMs: 1000, from: 2000, to: 2000 }], turn)
    assert.equal(sends.length, 2000)
    for (const s of sends) {
      assert.ok(s.at >= s.intended, `sent at ${s.at} before its time ${s.intended}`)
      assert.ok(s.at - s.intended <= turn + 1e-9, `sent ${s.at - s.intended} ms late`)
    }
    assert.equal(stats.sends.late, 0)
    assert.ok(stats.sendDelay.at(100) <= turn + 0.001, `recorded worst delay ${stats.sendDelay.at(100)}`)
  })

  test('spin: sends far apart wait on a timer and turn the loop only in the last SPIN_WINDOW_MS', async () => {
    const turn = 0.05
    // 100/s: 10 ms between sends, of which only the last 2 ms are spun.
    const { sends, turns } = await paced('spin', [{ durationMs: 1000, from: 100, to: 100 }], turn)
    assert.equal(sends.length, 100)
    for (const s of sends) assert.ok(s.at - s.intended <= turn + 1e-9)
    const perSend = turns / sends.length
    assert.ok(perSend <= SPIN_WINDOW_MS / turn + 2, `${perSend} turns per send`)
    assert.ok(perSend >= SPIN_WINDOW_MS / turn / 2, `${perSend} turns per send: the window is not spun`)
  })

  test('timer: no loop turns are spent waiting; sends leave in batches up to the timer granularity late', async () => {
    const { sends, turns } = await paced('timer', [{ durationMs: 1000, from: 2000, to: 2000 }], 0.05)
    assert.equal(turns, 0)
    assert.equal(sends.length, 2000)
    for (const s of sends) assert.ok(s.at >= s.intended && s.at - s.intended <= 1.05 + 1e-9)
    // what spin pacing is for: a whole-millisecond timer cannot hit half-millisecond sends
    assert.ok(sends.filter((s) => s.at - s.intended > 0.4).length > 500)
  })

  test('a held-up generator sends every overdue request on its next turn, each with its own intended time', async () => {
    // 8 ms with no turn from 100 ms on: the sixteen sends meant for that span leave together.
    const { sends, stats } = await paced('spin', [{ durationMs: 1500, from: 2000, to: 2000 }], 0.02, {
      at: 100,
      ms: 8,
    })
    assert.equal(sends.length, 3000)
    const overdue = sends.filter((s) => s.intended < 108.05 && s.at - s.intended > 0.02 + 1e-9)
    assert.ok(overdue.length >= 15 && overdue.length <= 17, `${overdue.length} overdue sends`)
    assert.equal(new Set(overdue.map((s) => s.tick)).size, 1, 'the overdue sends left on one turn')
    for (let i = 1; i < overdue.length; i++)
      assert.ok(Math.abs((overdue[i] as Sent).intended - (overdue[i - 1] as Sent).intended - 0.5) < 1e-6)
    // Their latency still counts from the intended time: the delays run from ~8 ms down.
    const worst = Math.max(...overdue.map((s) => s.at - s.intended))
    assert.ok(worst >= 7.5 && worst <= 8.05, `worst ${worst}`)
    assert.equal(stats.sends.sent, 3000)
    assert.equal(stats.sends.late, sends.filter((s) => s.at - s.intended > 1).length)
  })

  test('spin: held up longer than SPIN_HELD_MS, the timer paces alone for SPIN_BACKOFF_MS, then spinning resumes', async () => {
    const held = SPIN_HELD_MS + 3
    const { sends } = await paced('spin', [{ durationMs: 1000, from: 2000, to: 2000 }], 0.02, {
      at: 100,
      ms: held,
    })
    const resumed = 100 + held
    const backoff = sends.filter(
      (s) => s.intended > resumed + 1 && s.intended < resumed + SPIN_BACKOFF_MS - 1,
    )
    assert.ok(backoff.length > 100)
    assert.equal(new Set(backoff.map((s) => s.tick)).size, 1, 'no loop turns while backing off')
    assert.ok(
      backoff.some((s) => s.at - s.intended > 0.4),
      'timer pacing: whole-millisecond batches',
    )
    const after = sends.filter((s) => s.intended > resumed + SPIN_BACKOFF_MS + 1)
    assert.ok(after.length > 1000)
    for (const s of after) assert.ok(s.at - s.intended <= 0.02 + 1e-9, `${s.at - s.intended} ms late after`)
  })

  test('spin: a hold up to SPIN_HELD_MS (a GC pause, a burst of responses) does not stop the spinning', async () => {
    const { sends } = await paced('spin', [{ durationMs: 300, from: 2000, to: 2000 }], 0.02, {
      at: 100,
      ms: SPIN_HELD_MS - 0.5,
    })
    const after = sends.filter((s) => s.intended > 100 + SPIN_HELD_MS)
    assert.ok(after.length > 350)
    for (const s of after) assert.ok(s.at - s.intended <= 0.02 + 1e-9, `${s.at - s.intended} ms late after`)
  })

  test('precise: every send at 2,000/s leaves on the wake-up armed for its own time, one wake-up per send, no loop turns', async () => {
    const turn = 0.03
    const { sends, turns, wakes, stats } = await paced(
      'precise',
      [{ durationMs: 1000, from: 2000, to: 2000 }],
      turn,
    )
    assert.equal(sends.length, 2000)
    assert.equal(turns, 0)
    assert.equal(wakes, 1999, 'the first send leaves at the start, every later one on its own wake-up')
    for (const s of sends) {
      assert.ok(s.at >= s.intended, `sent at ${s.at} before its time ${s.intended}`)
      assert.ok(s.at - s.intended <= turn + 1e-9, `sent ${s.at - s.intended} ms late`)
    }
    assert.equal(stats.sends.late, 0)
  })

  test('precise: when the pacer thread dies mid-run the timer takes over and every send still goes out', async () => {
    const { sends, wakes } = await paced(
      'precise',
      [{ durationMs: 1000, from: 2000, to: 2000 }],
      0.03,
      undefined,
      300,
    )
    assert.equal(sends.length, 2000)
    assert.ok(wakes > 500 && wakes < 700, `${wakes} wake-ups before the thread died`)
    const after = sends.filter((s) => s.intended > 310)
    // timer pacing from then on: whole-millisecond batches
    assert.ok(after.filter((s) => s.at - s.intended > 0.4).length > 300)
    for (const s of sends) assert.ok(s.at >= s.intended && s.at - s.intended <= 1.05 + 1e-9)
  })

  test('auto pacing is precise up to PRECISE_MAX_RATE sends/s and timer above it; a named pacing is kept', () => {
    assert.equal(resolvePacing('auto', 2000), 'precise')
    assert.equal(resolvePacing('auto', PRECISE_MAX_RATE), 'precise')
    assert.equal(resolvePacing('auto', PRECISE_MAX_RATE + 1), 'timer')
    assert.equal(resolvePacing('timer', 10), 'timer')
    assert.equal(resolvePacing('spin', 100_000), 'spin')
  })
})
