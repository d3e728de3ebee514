import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { knee, type StepResult } from '../../../src/loadtest/breaking-point.js'

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
