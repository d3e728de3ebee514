/**
 * The self-contained HTML report: one file, no scripts, no network. The plots are inline SVG
 * drawn here (latency over time, throughput and errors per second, the percentile spectrum
 * corrected and uncorrected on HdrHistogram's log axis, the server's figures), so the file opens
 * offline in any browser and stays small (tens of KB for an hour's timeline).
 */
import { LatencyHistogram } from './histogram.js'
import { formatMs, formatReport, type LoadTestReport } from './report.js'

interface Series {
  name: string
  color: string
  points: Array<[number, number]>
}

const W = 720
const H = 220
const PAD = { left: 60, right: 16, top: 16, bottom: 32 }

function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')
}

function nice(n: number): string {
  return Math.abs(n) >= 1000 ? `${(n / 1000).toFixed(1)}k` : Math.abs(n) >= 10 ? n.toFixed(0) : n.toFixed(2)
}

/** An SVG line chart; `xLabel(x)` formats the x ticks. */
function chart(title: string, series: Series[], unit: string, xLabel: (x: number) => string): string {
  const all = series.flatMap((s) => s.points)
  if (all.length === 0) return ''
  const xs = all.map(([x]) => x)
  const ys = all.map(([, y]) => y)
  const x0 = Math.min(...xs)
  const x1 = Math.max(...xs) === x0 ? x0 + 1 : Math.max(...xs)
  const y1 = Math.max(...ys, 0) || 1
  const px = (x: number): number => PAD.left + ((x - x0) / (x1 - x0)) * (W - PAD.left - PAD.right)
  const py = (y: number): number => H - PAD.bottom - (y / y1) * (H - PAD.top - PAD.bottom)
  const grid = [0, 0.25, 0.5, 0.75, 1]
    .map(
      (f) =>
        `<line x1="${PAD.left}" x2="${W - PAD.right}" y1="${py(y1 * f).toFixed(1)}" y2="${py(y1 * f).toFixed(1)}" stroke="#ddd"/><text x="${PAD.left - 6}" y="${(py(y1 * f) + 4).toFixed(1)}" text-anchor="end">${nice(y1 * f)}</text>`,
    )
    .join('')
  const ticks = [0, 0.25, 0.5, 0.75, 1]
    .map((f) => {
      const x = x0 + (x1 - x0) * f
      return `<text x="${px(x).toFixed(1)}" y="${H - 10}" text-anchor="middle">${esc(xLabel(x))}</text>`
    })
    .join('')
  const lines = series
    .map(
      (s) =>
        `<polyline fill="none" stroke="${s.color}" stroke-width="1.5" points="${s.points.map(([x, y]) => `${px(x).toFixed(1)},${py(y).toFixed(1)}`).join(' ')}"/>`,
    )
    .join('')
  const legend = series.map((s) => `<span style="color:${s.color}">&#9632; ${esc(s.name)}</span>`).join(' ')
  return `<h2>${esc(title)}</h2><div class="legend">${legend} <span class="unit">(${esc(unit)})</span></div><svg viewBox="0 0 ${W} ${H}" width="${W}" height="${H}">${grid}${ticks}${lines}</svg>`
}

/** Percentile to the HdrHistogram x axis: log10(1 / (1 - p)), so 90, 99, 99.9 are evenly spaced. */
function logAxis(p: number): number {
  return Math.log10(1 / Math.max(1e-6, 1 - p / 100))
}

/** Renders `report` as one self-contained HTML page. */
export function renderHtml(report: LoadTestReport): string {
  const t = report.timeline
  const parts: string[] = []
  parts.push(
    chart(
      'Latency over time (corrected, per second)',
      [
        { name: 'p50', color: '#2a7', points: t.map((p) => [p.t, p.p50]) },
        { name: 'p90', color: '#e90', points: t.map((p) => [p.t, p.p90]) },
        { name: 'p99', color: '#d33', points: t.map((p) => [p.t, p.p99]) },
      ],
      'ms',
      (x) => `${x.toFixed(0)}s`,
    ),
  )
  parts.push(
    chart(
      'Throughput and errors',
      [
        { name: 'completed/s', color: '#36c', points: t.map((p) => [p.t, p.requests]) },
        { name: 'errors/s', color: '#d33', points: t.map((p) => [p.t, p.errors]) },
      ],
      'requests per second',
      (x) => `${x.toFixed(0)}s`,
    ),
  )
  const spectrum = (encoded: string): Array<[number, number]> =>
    LatencyHistogram.decode(encoded)
      .spectrum()
      .filter(([p]) => p < 100)
      .map(([p, ms]) => [logAxis(p), ms])
  parts.push(
    chart(
      'Percentile spectrum',
      [
        {
          name: 'corrected (from intended send time)',
          color: '#d33',
          points: spectrum(report.histograms.corrected),
        },
        {
          name: 'uncorrected (from actual send)',
          color: '#888',
          points: spectrum(report.histograms.uncorrected),
        },
      ],
      'ms',
      (x) => `p${(100 - 100 / 10 ** x).toPrecision(x > 2 ? 5 : 3)}`,
    ),
  )
  const samples = report.server?.samples ?? []
  if (samples.length > 0) {
    const pick = (f: (s: (typeof samples)[number]) => number | undefined): Array<[number, number]> =>
      samples.flatMap((s) => {
        const v = f(s)
        return v === undefined ? [] : [[s.t, v] as [number, number]]
      })
    parts.push(
      chart(
        `Server (${report.server?.url ?? ''})`,
        [
          { name: 'event-loop p99 (ms)', color: '#d33', points: pick((s) => s.eventLoopP99Ms) },
          {
            name: 'CPU (%)',
            color: '#36c',
            points: pick((s) => (s.cpu === undefined ? undefined : s.cpu * 100)),
          },
          {
            name: 'cache hit ratio (%)',
            color: '#2a7',
            points: pick((s) => (s.cacheHitRatio === undefined ? undefined : s.cacheHitRatio * 100)),
          },
          { name: 'pool waiters', color: '#a3c', points: pick((s) => s.poolWaiting) },
          { name: 'shed/s', color: '#e90', points: pick((s) => s.shedPerSec) },
        ].filter((s) => s.points.length > 0),
        'mixed units, see legend',
        (x) => `${x.toFixed(0)}s`,
      ),
    )
  }
  const verdict = report.passed ? '<b class="pass">PASS</b>' : '<b class="fail">FAIL</b>'
  const c = report.latency.corrected.percentiles
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>hotpath loadtest: ${esc(report.target)}</title>
<style>body{font:14px system-ui,sans-serif;margin:24px;max-width:760px;color:#222}h1{font-size:18px}h2{font-size:15px;margin:24px 0 4px}
svg{font:11px system-ui,sans-serif;fill:#555;background:#fcfcfc;border:1px solid #eee}pre{background:#f6f6f6;padding:12px;overflow-x:auto;font-size:12px}
.pass{color:#2a7}.fail{color:#d33}.legend{font-size:12px}.unit{color:#888}</style></head><body>
<h1>${esc(report.name ?? 'load test')}: ${esc(report.target)} ${verdict}</h1>
<p>${esc(report.startedAt)}, ${(report.durationMs / 1000).toFixed(1)} s, ${report.requests} requests (${report.rps.toFixed(1)}/s), errors ${(report.errorRate * 100).toFixed(2)}%;
p50 ${formatMs(c.p50 ?? 0)}, p99 ${formatMs(c.p99 ?? 0)}, max ${formatMs(report.latency.corrected.max)}.</p>
${parts.join('\n')}
<h2>Summary</h2><pre>${esc(formatReport(report))}</pre>
</body></html>
`
}
