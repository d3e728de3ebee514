/**
 * Load-tester benchmarks: hotpath loadtest against autocannon (and wrk when the Debian package is
 * installed) in the same run, every generator and target in its own process. Figures: closed-loop
 * capacity against a trivial target; coordinated omission against a target that freezes 1 s every
 * 5 s at 2,000 req/s (analytic p50 about the idle latency, p90 ~500 ms, p99 ~950 ms); pacing
 * (send delay p99 against the intended times). LOADTEST_BENCH_SECONDS sets the CO run's length.
 */
import { spawnSync } from 'node:child_process'
import { runLoadTest } from '../src/loadtest/index.js'
import { gc, report } from './lib/harness.js'
import { breakingPointRows, cpuRows } from './loadtest-extra.js'
import { autocannon, ours, startTarget } from './loadtest-gen.js'

const coSeconds = Number(process.env.LOADTEST_BENCH_SECONDS ?? 30)

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
  })
}

export default {
  name: 'loadtest (hotpath loadtest vs autocannon, wrk)',
  async run(): Promise<void> {
    const trivial = await startTarget('trivial')
    try {
      // Closed loop, 50 connections, 5 s, interleaved twice.
      const oursRps: number[] = []
      const undiciRps: number[] = []
      const peerRps: number[] = []
      for (let round = 0; round < 2; round++) {
        oursRps.push((await ours([trivial.url, '-c', '50', '-d', '5s'])).rps)
        peerRps.push((await autocannon(['-c', '50', '-d', '5', trivial.url])).requests.average)
        undiciRps.push((await ours([trivial.url, '-c', '50', '-d', '5s', '--client', 'undici'])).rps)
      }
      report({
        suite: 'loadtest',
        name: 'closed-loop capacity, 50 connections, trivial node:http target',
        ours: Math.max(...oursRps),
        peer: Math.max(...peerRps),
        peerName: 'autocannon',
        unit: 'req/s',
        higherIsBetter: true,
        target: '>= 0.95x',
        note: 'best of 2 interleaved 5 s runs each',
      })
      report({
        suite: 'loadtest',
        name: 'closed-loop capacity, 50 connections, --client undici (the undici path)',
        ours: Math.max(...undiciRps),
        peer: Math.max(...peerRps),
        peerName: 'autocannon',
        unit: 'req/s',
        higherIsBetter: true,
        note: 'best of 2 interleaved 5 s runs each; the default for http:// targets is the net client',
      })
      const twoThreads = (await ours([trivial.url, '-c', '50', '-d', '5s', '-w', '2'])).rps
      report({
        suite: 'loadtest',
        name: 'closed-loop capacity, 50 connections, --workers 2',
        ours: twoThreads,
        peer: Math.max(...peerRps),
        peerName: 'autocannon (1 thread)',
        unit: 'req/s',
        higherIsBetter: true,
        note: 'generator and target share the 2 cores',
      })
      await cpuRows(trivial.url)
      await memoryPerVu(trivial.url)
      const wrk = spawnSync('sh', ['-c', 'command -v wrk'], { encoding: 'utf8' })
      if (wrk.status === 0) {
        const out = spawnSync('wrk', ['-c', '50', '-t', '1', '-d', '5s', trivial.url], {
          encoding: 'utf8',
        }).stdout
        const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? Number.NaN)
        report({
          suite: 'loadtest',
          name: 'closed-loop capacity (wrk, 1 thread)',
          ours: Math.max(...oursRps),
          peer: rps,
          peerName: 'wrk',
          unit: 'req/s',
          higherIsBetter: true,
        })
      } else console.log('  wrk: not installed (apt-get install wrk to add it to this comparison)')
    } finally {
      trivial.child.kill()
    }

    const freeze = await startTarget('freeze')
    try {
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
          note: `ours uncorrected ${r.latency.uncorrected.percentiles[p]} ms; the ratio is not the goal: closeness to the analytic value is`,
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
        name: 'pacing: send delay p99 against the intended time at 2000 req/s',
        ours: r.sends.delay.percentiles.p99 ?? Number.NaN,
        peer: undefined,
        peerName: undefined,
        unit: 'ms',
        higherIsBetter: false,
        target: '<= 1 ms',
        note: `p50 ${r.sends.delay.percentiles.p50} ms; autocannon sends per-second bursts and reports no send times`,
      })
    } finally {
      freeze.child.kill()
    }
    await breakingPointRows()
  },
}
