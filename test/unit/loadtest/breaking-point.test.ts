import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { judgeStep, knee, type StepResult } from '../../../src/loadtest/breaking-point.js'
import type { LoadTestReport } from '../../../src/loadtest/report.js'
import type { TimelinePoint } from '../../../src/loadtest/stats.js'

function step(rate: number, p50: number): StepResult {
  return { phase: 'ramp', rate, achieved: rate, p50, p99: p50 * 3, errorRate: 0, ok: true, reason: undefined }
}

describe('knee', () => {
  test('is the rate where a hockey-stick latency curve turns up', () => {
    const steps = [100, 200, 300, 400, 500, 600, 700, 800].map((r) =>
      step(r, r <= 600 ? 1 + r / 1000 : 1 + (r - 600) / 5),
    )
    assert.equal(knee(steps), 600)
  })

  test('needs three distinct rates and a rising curve', () => {
    assert.equal(knee([step(1, 1), step(2, 2)]), undefined)
    assert.equal(knee([step(1, 1), step(2, 1), step(3, 1)]), undefined)
  })
})

/** A step's report: `perSecond` completions in each second of the timeline, all sends eventually answered. */
function stepReport(rate: number, seconds: number, perSecond: number[], p99: number): LoadTestReport {
  const timeline: TimelinePoint[] = perSecond.map((requests, i) => ({
    t: i + 1,
    requests,
    errors: 0,
    p50: p99 / 3,
    p90: p99 / 2,
    p99,
    max: p99,
  }))
  const requests = perSecond.reduce((n, x) => n + x, 0)
  return {
    plan: { stages: [{ durationMs: seconds * 1000, from: rate, to: rate }] },
    latency: { corrected: { percentiles: { p50: p99 / 3, p99 } } },
    sends: { scheduled: rate * seconds },
    timeline,
    requests,
    errors: 0,
    errorRate: 0,
  } as unknown as LoadTestReport
}

describe('judgeStep', () => {
  // Regression: a 3 s step at 1.3x a 1,000/s capacity passed. Its 3,900 sends all completed
  // (the backlog drained in the second after the step) and its p99 (900 ms) was under the 1 s SLO.
  test('a step over capacity breaks on its steady throughput even when every send completes under the SLO', () => {
    const r = stepReport(1300, 3, [1000, 1000, 1000, 900], 900)
    assert.equal(r.requests, 3900)
    const s = judgeStep('ramp', 1300, r, 1000, 0.01)
    assert.equal(s.ok, false)
    assert.equal(s.achieved, 1000)
    assert.match(s.reason ?? '', /^achieved 76\.9% of offered/)
  })

  test('a step within capacity holds; the first second (the pipeline filling) does not count', () => {
    const r = stepReport(1000, 3, [700, 1000, 1000, 300], 40)
    const s = judgeStep('ramp', 1000, r, 1000, 0.01)
    assert.equal(s.ok, true, s.reason)
    assert.equal(s.achieved, 1000)
  })

  test('a target that stalls in one second and catches up in the next holds (the median second)', () => {
    const r = stepReport(1000, 6, [900, 1000, 400, 1600, 1000, 1000, 100], 300)
    const s = judgeStep('bisect', 1000, r, 1000, 0.01)
    assert.equal(s.ok, true, s.reason)
    assert.equal(s.achieved, 1000)
  })

  test('p99 over the SLO, errors over the limit and sends left unanswered each break a step', () => {
    assert.match(
      judgeStep('bisect', 1000, stepReport(1000, 3, [1000, 1000, 1000], 1500), 1000, 0.01).reason ?? '',
      /^p99/,
    )
    const failed = stepReport(1000, 3, [1000, 1000, 1000], 40)
    Object.assign(failed, { errors: 60, errorRate: 0.02 })
    assert.match(judgeStep('bisect', 1000, failed, 1000, 0.01).reason ?? '', /^errors 2\.00%/)
    const lost = stepReport(1000, 3, [800, 1000, 1000], 40)
    assert.match(judgeStep('bisect', 1000, lost, 1000, 0.01).reason ?? '', /^completed 93\.3% of sends/)
  })
})
