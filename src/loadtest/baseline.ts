/**
 * Baseline comparison: the figures of a run against a previous report, each with its change and
 * a verdict. A latency figure regresses when it grows by more than the tolerance AND by more than
 * a noise floor (0.5 ms: sub-millisecond wobble is not a regression); throughput when it falls by
 * more than the tolerance; the error rate when it grows by more than 0.1 percentage point.
 */
import type { LoadTestReport } from './report.js'

/** One compared figure. */
export interface FigureComparison {
  figure: string
  baseline: number
  current: number
  /** current / baseline - 1 (0 when the baseline is 0). */
  change: number
  verdict: 'better' | 'same' | 'worse'
}

/** The comparison of a run with its baseline. */
export interface BaselineComparison {
  baseline: { startedAt: string; target: string }
  tolerance: number
  figures: FigureComparison[]
  /** True when any figure is worse. */
  regression: boolean
}

const LATENCY = ['p50', 'p90', 'p99', 'p99.9'] as const
const NOISE_MS = 0.5
const ERROR_RATE_STEP = 0.001

/** Compares `current` with `baseline`; `tolerance` is a fraction (0.1 = 10%). */
export function compareWithBaseline(
  current: LoadTestReport,
  baseline: LoadTestReport,
  tolerance = 0.1,
): BaselineComparison {
  const figures: FigureComparison[] = []
  const add = (figure: string, b: number, c: number, worse: boolean, better: boolean): void => {
    figures.push({
      figure,
      baseline: b,
      current: c,
      change: b === 0 ? 0 : c / b - 1,
      verdict: worse ? 'worse' : better ? 'better' : 'same',
    })
  }
  for (const p of LATENCY) {
    const b = baseline.latency.corrected.percentiles[p] ?? 0
    const c = current.latency.corrected.percentiles[p] ?? 0
    add(
      `${p} (ms)`,
      b,
      c,
      c > b * (1 + tolerance) && c - b > NOISE_MS,
      c < b * (1 - tolerance) && b - c > NOISE_MS,
    )
  }
  add('mean (ms)', baseline.latency.corrected.mean, current.latency.corrected.mean, false, false)
  // Throughput is only a verdict in the closed model: an open model's rate is what was asked for.
  const closed = current.model === 'closed' && baseline.model === 'closed'
  add(
    'rps',
    baseline.rps,
    current.rps,
    closed && current.rps < baseline.rps * (1 - tolerance),
    closed && current.rps > baseline.rps * (1 + tolerance),
  )
  add(
    'error rate (%)',
    baseline.errorRate * 100,
    current.errorRate * 100,
    current.errorRate > baseline.errorRate + ERROR_RATE_STEP,
    current.errorRate < baseline.errorRate - ERROR_RATE_STEP,
  )
  const dropped = (r: LoadTestReport): number =>
    r.sends.scheduled === 0 ? 0 : r.sends.dropped / r.sends.scheduled
  add(
    'dropped (%)',
    dropped(baseline) * 100,
    dropped(current) * 100,
    dropped(current) > dropped(baseline) + ERROR_RATE_STEP,
    false,
  )
  return {
    baseline: { startedAt: baseline.startedAt, target: baseline.target },
    tolerance,
    figures,
    regression: figures.some((f) => f.verdict === 'worse'),
  }
}

/** The comparison as text lines. */
export function formatComparison(c: BaselineComparison): string {
  const rows = c.figures.map((f) => {
    const change = f.baseline === 0 ? '' : `${f.change >= 0 ? '+' : ''}${(f.change * 100).toFixed(1)}%`
    return `  ${f.figure.padEnd(15)} ${fmt(f.baseline).padStart(10)} -> ${fmt(f.current).padStart(10)}  ${change.padStart(8)}  ${f.verdict === 'worse' ? 'WORSE' : f.verdict === 'better' ? 'better' : 'same'}`
  })
  return [
    `baseline      ${c.baseline.startedAt} (${c.baseline.target}), tolerance ${(c.tolerance * 100).toFixed(0)}%: ${c.regression ? 'REGRESSION' : 'no regression'}`,
    ...rows,
  ].join('\n')
}

function fmt(n: number): string {
  return n >= 100 ? n.toFixed(0) : n >= 1 ? n.toFixed(2) : n.toFixed(3)
}
