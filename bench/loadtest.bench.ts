/**
 * Load-tester benchmarks: hotpath loadtest against autocannon (and wrk when the Debian package is
 * installed) in the same run, every generator and target in its own process, ours and the peer
 * interleaved in LOADTEST_BENCH_ROUNDS rounds (default 3), the load average in every row's note.
 * Figures: closed-loop capacity against a trivial target and a two-worker cluster target;
 * generator CPU per request; memory per VU; coordinated omission against a target that freezes
 * 1 s every 5 s at 2,000 req/s (analytic p50 about the idle latency, p90 ~500 ms, p99 ~950 ms);
 * pacing (send delay p99 against the intended times); the breaking point.
 *
 * LOADTEST_BENCH_SECONDS sets the CO run's length (default 30). LOADTEST_BENCH_ONLY picks
 * figures, comma-separated: capacity, cluster, cpu, memory, wrk, co, pacing, breaking (default
 * all), e.g. `LOADTEST_BENCH_ONLY=pacing,cpu npm run bench -- loadtest`.
 */
import { spawnSync } from 'node:child_process'
import { runLoadTest } from '../src/loadtest/index.js'
import { gc, report } from './lib/harness.js'
import { capacityRows, load, pacingRows } from './loadtest-capacity.js'
import { breakingPointRows, cpuRows } from './loadtest-extra.js'
import { autocannon, ours, startTarget } from './loadtest-gen.js'

const coSeconds = Number(process.env.LOADTEST_BENCH_SECONDS ?? 30)
const FIGURES = ['capacity', 'cluster', 'cpu', 'memory', 'wrk', 'co', 'pacing', 'breaking'] as const
const only = (process.env.LOADTEST_BENCH_ONLY ?? '').split(',').filter((s) => s !== '')
for (const o of only)
  if (!(FIGURES as readonly string[]).includes(o))
    throw new Error(`LOADTEST_BENCH_ONLY: unknown figure ${o}; known: ${FIGURES.join(', ')}`)
const want = (figure: (typeof FIGURES)[number]): boolean => only.length === 0 || only.includes(figure)

/** Peak RSS growth per virtual user: 10,000 users (100 connections, 1 s think) against 10. */
async function memoryPerVu(url: string): Promise<void> {
  const peak = async (vus: number): Promise<number> => {
    gc()
    const before = process.memoryUsage().rss
    let max = before
    const timer = setInterval(() => {
      max = Math.max(max, process.memoryUsage().rss)
    }, 50)
    await runLoadTest({ target: url, vus, connections: 100, think: '1s', duration: '5s', scrape: false })
    clearInterval(timer)
    return max - before
  }
  const small = await peak(10)
  const large = await peak(10_000)
  report({
    suite: 'loadtest',
    name: 'memory per virtual user at 10,000 VUs (peak RSS growth)',
    ours: (large - small) / 9_990 / 1024,
    peer: undefined,
    peerName: undefined,
    unit: 'KB/VU',
    higherIsBetter: false,
    target: '<= 50 KB (k6 documents 1-5 MB)',
    note: `load ${load()}`,
  })
}

/** wrk's closed-loop capacity (1 thread) beside ours, interleaved. */
async function wrkRow(url: string): Promise<void> {
  if (spawnSync('sh', ['-c', 'command -v wrk']).status !== 0) {
    console.log('  wrk: not installed (apt-get install wrk to add it to this comparison)')
    return
  }
  const oursRps: number[] = []
  const wrkRps: number[] = []
  for (let round = 0; round < 2; round++) {
    oursRps.push((await ours([url, '-c', '50', '-d', '5s'])).rps)
    const out = spawnSync('wrk', ['-c', '50', '-t', '1', '-d', '5s', url], { encoding: 'utf8' }).stdout
    wrkRps.push(Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? Number.NaN))
  }
  report({
    suite: 'loadtest',
    name: 'closed-loop capacity (wrk, 1 thread, C)',
    ours: Math.max(...oursRps),
    peer: Math.max(...wrkRps),
    peerName: 'wrk',
    unit: 'req/s',
    higherIsBetter: true,
    note: `best of 2 interleaved 5 s runs; load ${load()}`,
  })
}

/** The coordinated-omission target at 2,000 req/s: corrected percentiles, send rate, pacing. */
async function coRows(): Promise<void> {
  const freeze = await startTarget('freeze')
  try {
    const before = load()
    const r = await ours([freeze.url, '-R', '2000', '-c', '50', '-d', `${coSeconds}s`])
    const a = await autocannon(['-R', '2000', '-c', '50', '-d', String(coSeconds), freeze.url])
    const analytic: Record<string, number> = { p50: 1, p90: 500, p99: 950 }
    for (const p of ['p50', 'p90', 'p99'] as const) {
      const peer = p === 'p50' ? a.latency.p50 : p === 'p90' ? a.latency.p90 : a.latency.p99
      report({
        suite: 'loadtest',
        name: `CO target (1 s freeze every 5 s), 2000 req/s, ${p} corrected`,
        ours: r.latency.corrected.percentiles[p] ?? Number.NaN,
        peer,
        peerName: 'autocannon -R',
        unit: 'ms',
        higherIsBetter: false,
        target: `analytic ~${analytic[p]} ms (+-10%)`,
        note: `ours uncorrected ${r.latency.uncorrected.percentiles[p]} ms; the ratio is not the goal: closeness to the analytic value is; load ${before}`,
      })
    }
    const achieved = (r.sends.sent / Math.max(1, r.sends.scheduled)) * 100
    report({
      suite: 'loadtest',
      name: 'CO target, achieved send rate (% of 2000/s schedule)',
      ours: achieved,
      peer: (a.requests.total / (2000 * coSeconds)) * 100,
      peerName: 'autocannon -R (completed/planned)',
      unit: '%',
      higherIsBetter: true,
      target: '>= 99%',
    })
    report({
      suite: 'loadtest',
      name: 'pacing: send delay p99 against the intended time at 2000 req/s (CO target, default pacing)',
      ours: r.sends.delay.percentiles.p99 ?? Number.NaN,
      peer: undefined,
      peerName: undefined,
      unit: 'ms',
      higherIsBetter: false,
      target: '<= 1 ms',
      note: `p50 ${r.sends.delay.percentiles.p50} ms; autocannon sends per-second bursts and reports no send times; load ${before}`,
    })
  } finally {
    freeze.child.kill()
  }
}

export default {
  name: 'loadtest (hotpath loadtest vs autocannon, wrk)',
  async run(): Promise<void> {
    if (want('capacity')) await capacityRows('trivial', true)
    if (want('cluster')) await capacityRows('cluster', false)
    if (want('cpu') || want('memory') || want('wrk')) {
      const trivial = await startTarget('trivial')
      try {
        if (want('cpu')) await cpuRows(trivial.url)
        if (want('memory')) await memoryPerVu(trivial.url)
        if (want('wrk')) await wrkRow(trivial.url)
      } finally {
        trivial.child.kill()
      }
    }
    if (want('pacing')) await pacingRows()
    if (want('co')) await coRows()
    if (want('breaking')) await breakingPointRows()
  },
}
