import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { isHotpathError } from '../../../src/errors.js'
import { compareWithBaseline, formatComparison } from '../../../src/loadtest/baseline.js'
import { LatencyHistogram } from '../../../src/loadtest/histogram.js'
import { renderHtml } from '../../../src/loadtest/html.js'
import {
  checkThresholds,
  formatReport,
  type LoadTestReport,
  mergeReports,
  REPORT_FORMAT,
  readReport,
} from '../../../src/loadtest/report.js'
import { Stats } from '../../../src/loadtest/stats.js'

function reportOf(stats: Stats, startedAt: string, durationMs: number): LoadTestReport {
  return {
    format: REPORT_FORMAT,
    name: undefined,
    target: 'http://127.0.0.1:1/',
    model: 'open',
    startedAt,
    durationMs,
    plan: {
      stages: [{ durationMs, from: 100, to: 100 }],
      vus: 0,
      thinkMs: 0,
      connections: 1,
      pipelining: 1,
      timeoutMs: 1000,
      maxInFlight: 100,
      lateAfterMs: 1,
    },
    requests: stats.requests,
    errors: stats.errors,
    errorRate: stats.errorRate,
    rps: (stats.requests * 1000) / durationMs,
    bytes: stats.bytes,
    statuses: stats.statuses,
    errorKinds: stats.errorKinds,
    sends: { ...stats.sends, delay: stats.sendDelay.summary() },
    latency: { corrected: stats.corrected.summary(), uncorrected: stats.uncorrected.summary() },
    histograms: {
      corrected: stats.corrected.encode(),
      uncorrected: stats.uncorrected.encode(),
      sendDelay: stats.sendDelay.encode(),
    },
    timeline: stats.timeline,
    thresholds: [{ threshold: 'p99 < 50ms', ok: true, actual: 0 }],
    passed: true,
    stopped: undefined,
    runs: 1,
  }
}

function run(seed: number, n: number, failEvery: number): Stats {
  const s = new Stats()
  for (let i = 0; i < n; i++) {
    const latency = ((i * seed) % 997) / 10
    s.recordSend(0.1, 1)
    s.sends.scheduled++
    s.record({
      intended: 0,
      start: 0,
      end: latency,
      ok: i % failEvery !== 0,
      status: i % failEvery === 0 ? 503 : 200,
      bytes: 10,
    })
    if (i % 100 === 99) s.closeInterval((i + 1) / 100)
  }
  return s
}

const dir = mkdtempSync(join(tmpdir(), 'hotpath-report-'))
after(() => rmSync(dir, { recursive: true, force: true }))

describe('reports', () => {
  test('merging two simultaneous runs is exact: the same histogram as one run of all requests', () => {
    const a = run(7, 1000, 50)
    const b = run(13, 500, 10)
    const merged = mergeReports([
      reportOf(a, '2026-01-01T00:00:00.000Z', 10_000),
      reportOf(b, '2026-01-01T00:00:02.000Z', 5_000),
    ])
    const all = new LatencyHistogram()
    all.add(a.corrected)
    all.add(b.corrected)
    assert.equal(merged.histograms.corrected, all.encode())
    assert.deepEqual(merged.latency.corrected, all.summary())
    assert.equal(merged.requests, 1500)
    assert.equal(merged.errors, 20 + 50)
    assert.equal(merged.statuses['503'], 70)
    assert.equal(merged.durationMs, 10_000)
    assert.equal(merged.rps, 150)
    assert.equal(merged.runs, 2)
    // Timelines add on the wall clock: b's first second is a's third.
    assert.equal(merged.timeline.find((p) => p.t === 3)?.requests, 200)
    // Thresholds are re-checked on the merged histogram.
    assert.equal(merged.thresholds[0]?.ok, all.at(99) < 50)
  })

  test('checkThresholds applies new thresholds to a report', () => {
    const r = checkThresholds(reportOf(run(7, 1000, 50), '2026-01-01T00:00:00.000Z', 10_000), [
      'errors < 1%',
      'p50 < 1s',
    ])
    assert.equal(r.passed, false)
    assert.deepEqual(
      r.thresholds.map((t) => [t.threshold, t.ok, t.actual]),
      [
        ['errors < 1%', false, 2],
        ['p50 < 1s', true, r.thresholds[1]?.actual],
      ],
    )
  })

  test('readReport refuses a file that is not a report, naming it', async () => {
    const bad = join(dir, 'bad.json')
    writeFileSync(bad, '{"format":"k6"}')
    await assert.rejects(
      readReport(bad),
      (err: unknown) =>
        isHotpathError(err, 'E_LOADTEST_REPORT') &&
        (err as Error).message.startsWith(`${bad}: is not a hotpath load-test report`),
    )
    const notJson = join(dir, 'x.json')
    writeFileSync(notJson, 'nope')
    await assert.rejects(readReport(notJson), /is not JSON/)
    await assert.rejects(readReport(join(dir, 'missing.json')), /cannot be read/)
    const good = join(dir, 'good.json')
    writeFileSync(good, JSON.stringify(reportOf(run(3, 10, 5), '2026-01-01T00:00:00.000Z', 1000)))
    assert.equal((await readReport(good)).requests, 10)
  })

  test('the text report shows corrected and uncorrected latency and the send counters', () => {
    const text = formatReport(reportOf(run(7, 100, 50), '2026-01-01T00:00:00.000Z', 1000))
    assert.match(text, /^latency .*\(from intended send time\)$/m)
    assert.match(text, /^uncorrected .*\(from actual send/m)
    assert.match(text, /^sends +100 of 100 \(100\.00%\), dropped 0, late 0/m)
    assert.match(text, /^threshold +PASS {2}p99 < 50ms/m)
  })
})

describe('a report with no finished request', () => {
  test('checkThresholds fails a latency threshold, the text says no request finished, and the JSON round trip keeps it failed', async () => {
    const empty = checkThresholds(reportOf(new Stats(), '2026-01-01T00:00:00.000Z', 1000), [
      'p99 < 200ms',
      'errors < 1%',
    ])
    assert.equal(empty.passed, false)
    assert.deepEqual(
      empty.thresholds.map((t) => t.ok),
      [false, true],
    )
    assert.match(formatReport(empty), /^threshold +FAIL {2}p99 < 200ms {2}\(no request finished\)$/m)
    const file = join(dir, 'empty.json')
    writeFileSync(file, JSON.stringify(empty))
    const back = await readReport(file)
    assert.equal(back.passed, false)
    assert.match(formatReport(back), /\(no request finished\)/)
  })
})

describe('baseline comparison', () => {
  test('the same figures are no regression; slower percentiles and more errors are', () => {
    const base = reportOf(run(7, 1000, 1000), '2026-01-01T00:00:00.000Z', 10_000)
    const same = compareWithBaseline(base, base)
    assert.equal(same.regression, false)
    assert.ok(same.figures.every((f) => f.verdict === 'same'))
    const slow = new Stats()
    for (let i = 0; i < 1000; i++)
      slow.record({ intended: 0, start: 0, end: (((i * 7) % 997) / 10) * 2, ok: i % 20 !== 0, status: 200 })
    const c = compareWithBaseline(reportOf(slow, '2026-01-02T00:00:00.000Z', 10_000), base, 0.1)
    assert.equal(c.regression, true)
    const verdict = Object.fromEntries(c.figures.map((f) => [f.figure, f.verdict]))
    assert.equal(verdict['p99 (ms)'], 'worse')
    assert.equal(verdict['error rate (%)'], 'worse')
    // The open model's rate is what was asked for: never a verdict.
    assert.equal(verdict.rps, 'same')
    assert.match(formatComparison(c), /REGRESSION/)
  })
})

describe('HTML report', () => {
  test('one self-contained page: plots as inline SVG, nothing fetched, escaped text, small', () => {
    const stats = run(7, 20_000, 50)
    for (let i = 1; i <= 3600; i++) stats.closeInterval(i)
    const r = { ...reportOf(stats, '2026-01-01T00:00:00.000Z', 3_600_000), name: '<b>x</b>' }
    const html = renderHtml(r)
    assert.ok(
      Buffer.byteLength(html) <= 300 * 1024,
      `${Buffer.byteLength(html)} bytes for an hour's timeline`,
    )
    assert.doesNotMatch(html, /<script|<link|<img|@import|url\(|src=/i)
    assert.equal((html.match(/<svg /g) ?? []).length, 3)
    assert.match(html, /Percentile spectrum/)
    assert.match(html, /&lt;b&gt;x&lt;\/b&gt;/)
  })
})
