import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { runClosedModel } from '../../../src/loadtest/closed-model.js'
import { LatencyHistogram } from '../../../src/loadtest/histogram.js'
import { runOpenModel } from '../../../src/loadtest/open-model.js'
import { ArrivalSchedule, type RateStage, stairs } from '../../../src/loadtest/schedule.js'
import { Stats } from '../../../src/loadtest/stats.js'
import { FakeClock } from '../../../src/time.js'

function times(stages: RateStage[]): number[] {
  const s = new ArrivalSchedule(stages)
  const out: number[] = []
  for (let t = s.next(); t !== undefined; t = s.next()) out.push(t)
  return out
}

describe('arrival schedule', () => {
  test('a constant rate is evenly spaced, first send at 0, none at the end', () => {
    const t = times([{ durationMs: 1000, from: 2000, to: 2000 }])
    assert.equal(t.length, 2000)
    assert.equal(t[0], 0)
    for (let i = 1; i < t.length; i++)
      assert.ok(Math.abs((t[i] as number) - (t[i - 1] as number) - 0.5) < 1e-9)
  })

  test('a ramp sends the integral of its rate, spacing shrinking as the rate grows', () => {
    const t = times([{ durationMs: 10_000, from: 0, to: 100 }])
    // (0 + 100) / 2 req/s over 10 s = 500 arrivals.
    assert.equal(t.length, 500)
    const early = (t[2] as number) - (t[1] as number)
    const late = (t[499] as number) - (t[498] as number)
    assert.ok(early > late * 5, `early gap ${early} ms, late gap ${late} ms`)
    // Half the time has a quarter of the arrivals.
    assert.equal(t.filter((x) => x < 5000).length, 125)
  })

  test('stairs hold each rate for its step; stages chain without losing arrivals', () => {
    const t = times(stairs(10, 10, 3, 1000))
    assert.equal(t.length, 10 + 20 + 30)
    assert.equal(t.filter((x) => x >= 1000 && x < 2000).length, 20)
    assert.ok(Math.abs((t[11] as number) - (t[10] as number) - 50) < 1e-6)
  })
})

describe('histograms', () => {
  test('encode and decode keep every count; merging equals recording into one', () => {
    const a = new LatencyHistogram()
    const b = new LatencyHistogram()
    const both = new LatencyHistogram()
    for (let i = 1; i <= 5000; i++) {
      const v = ((i * 7919) % 3000) / 10 + 0.05
      ;(i % 2 === 0 ? a : b).record(v)
      both.record(v)
    }
    const merged = LatencyHistogram.decode(a.encode())
    merged.add(LatencyHistogram.decode(b.encode()))
    assert.equal(merged.count, 5000)
    assert.deepEqual(merged.summary(), both.summary())
    assert.equal(merged.encode(), both.encode())
  })

  test('values keep 3 significant digits from microseconds to minutes', () => {
    const h = new LatencyHistogram()
    h.record(0.25)
    h.record(60_000)
    assert.equal(h.at(0), 0.25)
    assert.ok(Math.abs(h.at(100) - 60_000) / 60_000 < 0.001)
  })
})

/** A server that answers in 0.5 ms, except that it freezes for 1 s every 5 s (as the bench's). */
function freezingServer(origin: number) {
  return (at: number): number => {
    const phase = (at - origin) % 5000
    return phase >= 4000 ? at + (5000 - phase) + 0.5 : at + 0.5
  }
}

describe('open model on a fake clock', () => {
  test('sends on schedule: every send within 1 ms of its intended time', async () => {
    const clock = new FakeClock()
    const stats = new Stats()
    const sendTimes: number[] = []
    const done = runOpenModel({
      stages: [{ durationMs: 1000, from: 2000, to: 2000 }],
      clock,
      stats,
      maxInFlight: 10_000,
      lateAfterMs: 1,
      iteration: async (intended) => {
        sendTimes.push(clock.now() - intended)
      },
    })
    for (let i = 0; i < 120; i++) await clock.tick(10)
    await done
    assert.equal(sendTimes.length, 2000)
    assert.equal(stats.sends.scheduled, 2000)
    assert.equal(stats.sends.late, 0)
    assert.ok(Math.max(...sendTimes) <= 1, `worst send delay ${Math.max(...sendTimes)} ms`)
  })

  test('latency from the intended time matches the analytic values of a 1 s freeze every 5 s', async () => {
    const clock = new FakeClock()
    const origin = clock.now()
    const respond = freezingServer(origin)
    const stats = new Stats()
    // The generator itself freezes with the server (same process in many setups): sends go out
    // late, and only the corrected histogram sees the wait.
    const done = runOpenModel({
      stages: [{ durationMs: 10_000, from: 500, to: 500 }],
      clock,
      stats,
      maxInFlight: 100_000,
      lateAfterMs: 1,
      iteration: (intended) =>
        new Promise<void>((resolve) => {
          const start = clock.now()
          clock.setTimeout(() => {
            stats.record({ intended, start, end: clock.now(), ok: true, status: 200 })
            resolve()
          }, respond(intended) - start)
        }),
    })
    for (let i = 0; i < 1100; i++) await clock.tick(10)
    await done
    assert.equal(stats.requests, 5000)
    const c = stats.corrected
    // 80% answer in 0.5 ms; 20% wait uniformly 0-1 s: p90 = 500 ms, p99 = 950 ms.
    assert.ok(c.at(50) < 1, `p50 ${c.at(50)}`)
    assert.ok(Math.abs(c.at(90) - 500) < 50, `p90 ${c.at(90)}`)
    assert.ok(Math.abs(c.at(99) - 950) < 20, `p99 ${c.at(99)}`)
    assert.equal(stats.sends.dropped, 0)
  })

  test('a send that finds maxInFlight outstanding is dropped and counted, not delayed', async () => {
    const clock = new FakeClock()
    const stats = new Stats()
    const releases: Array<() => void> = []
    const done = runOpenModel({
      stages: [{ durationMs: 100, from: 1000, to: 1000 }],
      clock,
      stats,
      maxInFlight: 10,
      lateAfterMs: 1,
      iteration: () => new Promise<void>((resolve) => releases.push(resolve)),
    })
    await clock.tick(200)
    assert.equal(stats.sends.scheduled, 100)
    assert.equal(stats.sends.sent, 10)
    assert.equal(stats.sends.dropped, 90)
    for (const r of releases) r()
    await done
  })

  test('an abort stops the schedule and waits for the iterations in flight', async () => {
    const clock = new FakeClock()
    const stats = new Stats()
    const ac = new AbortController()
    let finished = 0
    const done = runOpenModel({
      stages: [{ durationMs: 10_000, from: 100, to: 100 }],
      clock,
      stats,
      maxInFlight: 1000,
      lateAfterMs: 1,
      signal: ac.signal,
      iteration: () =>
        new Promise<void>((resolve) =>
          clock.setTimeout(() => {
            finished++
            resolve()
          }, 50),
        ),
    })
    await clock.tick(1000)
    ac.abort()
    const sent = stats.sends.sent
    await clock.tick(100)
    await done
    assert.ok(sent >= 100 && sent <= 101, `sent ${sent}`)
    assert.equal(finished, sent)
  })
})

/**
 * Runs `vus` users for 1 s on a fake clock, each iteration a 10 ms request, through the promise
 * path or the direct (callback) one; resolves with the iterations each user ran.
 */
async function iterationsPerUser(vus: number, thinkMs: number, direct: boolean): Promise<number[]> {
  const clock = new FakeClock()
  const perUser = new Array<number>(vus).fill(0)
  const work = (vu: number, end: () => void): unknown =>
    clock.setTimeout(() => {
      perUser[vu] = (perUser[vu] as number) + 1
      end()
    }, 10)
  const done = runClosedModel({
    vus,
    durationMs: 1000,
    thinkMs,
    clock,
    iteration: (vu) =>
      direct
        ? Promise.reject(new Error('the promise path ran'))
        : new Promise<void>((resolve) => work(vu, resolve)),
    // with think time a direct iteration is offered but must not run (it is for back-to-back use)
    direct: direct
      ? (vu, _i, next) => work(vu, next)
      : thinkMs > 0
        ? () => assert.fail('direct ran with think time')
        : undefined,
  })
  for (let i = 0; i < 120; i++) await clock.tick(10)
  await done
  return perUser
}

describe('closed model on a fake clock', () => {
  test('each user runs iterations back to back with think time until the duration ends', async () => {
    // 100 ms per iteration (10 ms request + 90 ms think): 10 each.
    assert.deepEqual(await iterationsPerUser(3, 90, false), [10, 10, 10])
  })

  test('with think time the users start spread over one think time, not in one synchronized burst', async () => {
    const clock = new FakeClock()
    const t0 = clock.now()
    const firstAt: number[] = []
    const done = runClosedModel({
      vus: 4,
      durationMs: 1000,
      thinkMs: 1000,
      clock,
      iteration: (vu) => {
        if (firstAt[vu] === undefined) firstAt[vu] = clock.now() - t0
        return Promise.resolve()
      },
    })
    for (let i = 0; i < 250; i++) await clock.tick(10)
    await done
    assert.deepEqual(firstAt, [0, 250, 500, 750])
  })

  test('the closed model under a freeze records only one slow sample per user (why CO matters)', async () => {
    const clock = new FakeClock()
    const respond = freezingServer(clock.now())
    const stats = new Stats()
    let slow = 0
    const done = runClosedModel({
      vus: 5,
      durationMs: 5000,
      thinkMs: 0,
      clock,
      iteration: () =>
        new Promise<void>((resolve) => {
          const start = clock.now()
          clock.setTimeout(() => {
            if (clock.now() - start > 100) slow++
            stats.record({ intended: start, start, end: clock.now(), ok: true })
            resolve()
          }, respond(start) - start)
        }),
    })
    for (let i = 0; i < 520; i++) await clock.tick(10)
    await done
    assert.ok(stats.corrected.at(99) < 1, `closed-model p99 ${stats.corrected.at(99)} ms hides the freeze`)
    assert.ok(stats.corrected.hdr.maxValue >= 999_000)
    // One freeze (4-5 s), five users: five slow samples among thousands of fast ones.
    assert.equal(slow, 5)
  })
})

describe('closed model without promises (direct iterations)', () => {
  const never = (): Promise<void> => Promise.reject(new Error('the promise path ran'))

  test('each user runs back to back on its callback until the duration ends', async () => {
    assert.deepEqual(await iterationsPerUser(2, 0, true), [100, 100])
  })

  test('an iteration that ends before it returns loops, not recurses, and stops on abort', async () => {
    const clock = new FakeClock()
    const ac = new AbortController()
    let calls = 0
    let depth = 0
    let deepest = 0
    const done = runClosedModel({
      vus: 1,
      durationMs: 10_000,
      thinkMs: 0,
      clock,
      signal: ac.signal,
      iteration: never,
      direct: (_vu, _i, next) => {
        calls++
        depth++
        deepest = Math.max(deepest, depth)
        if (calls === 50_000) ac.abort()
        next()
        depth--
      },
    })
    await done
    assert.equal(calls, 50_000)
    assert.equal(deepest, 1)
  })
})
