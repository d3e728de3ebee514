/**
 * The load-test bench's capacity and pacing rows. Capacity: closed loop against a trivial target,
 * ours and autocannon interleaved in rounds (one process target, then the two-worker cluster
 * target so the target is less the limit). Pacing: send delay against the intended times at
 * 2,000 req/s, the three pacings interleaved.
 */
import os from 'node:os'
import { report } from './lib/harness.js'
import { autocannon, ours, oursRun, startTarget } from './loadtest-gen.js'

/** Interleaved rounds of every comparison (LOADTEST_BENCH_ROUNDS, default 3). */
export const rounds = Math.max(1, Number(process.env.LOADTEST_BENCH_ROUNDS ?? 3))

/** The 1-minute load average now, for the rows' notes. */
export function load(): string {
  return os.loadavg()[0]?.toFixed(2) ?? '?'
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)] as number
}

/** `ours/peer` per round, as printed in the notes. */
function pairs(a: number[], b: number[], digits = 0): string {
  return a.map((x, i) => `${x.toFixed(digits)}/${(b[i] as number).toFixed(digits)}`).join(', ')
}

/**
 * Closed-loop capacity, 50 connections, 5 s runs: ours (net client), autocannon and ours with
 * `--client undici`, interleaved; best of the rounds and every round's pair in the note.
 */
export async function capacityRows(mode: 'trivial' | 'cluster', withUndici: boolean): Promise<number[]> {
  const target = await startTarget(mode)
  const label = mode === 'trivial' ? 'trivial node:http target' : 'two-worker node:cluster target'
  try {
    const oursRps: number[] = []
    const peerRps: number[] = []
    const undiciRps: number[] = []
    const loads: string[] = []
    for (let round = 0; round < rounds; round++) {
      loads.push(load())
      oursRps.push((await ours([target.url, '-c', '50', '-d', '5s'])).rps)
      peerRps.push((await autocannon(['-c', '50', '-d', '5', target.url])).requests.average)
      if (withUndici)
        undiciRps.push((await ours([target.url, '-c', '50', '-d', '5s', '--client', 'undici'])).rps)
    }
    const ratios = oursRps.map((o, i) => (o / (peerRps[i] as number)).toFixed(3)).join(', ')
    report({
      suite: 'loadtest',
      name: `closed-loop capacity, 50 connections, ${label}`,
      ours: Math.max(...oursRps),
      peer: Math.max(...peerRps),
      peerName: 'autocannon',
      unit: 'req/s',
      higherIsBetter: true,
      target: '>= 0.95x',
      note: `best of ${rounds} interleaved 5 s runs; per round ours/autocannon ${pairs(oursRps, peerRps)} (ratios ${ratios}, median ${median(oursRps.map((o, i) => o / (peerRps[i] as number))).toFixed(3)}); load ${loads.join(', ')}`,
    })
    if (withUndici)
      report({
        suite: 'loadtest',
        name: `closed-loop capacity, 50 connections, --client undici (the undici path), ${label}`,
        ours: Math.max(...undiciRps),
        peer: Math.max(...peerRps),
        peerName: 'autocannon',
        unit: 'req/s',
        higherIsBetter: true,
        note: `best of ${rounds} interleaved 5 s runs; the default for http:// targets is the net client`,
      })
    if (withUndici) {
      const twoThreads = (await ours([target.url, '-c', '50', '-d', '5s', '-w', '2'])).rps
      report({
        suite: 'loadtest',
        name: `closed-loop capacity, 50 connections, --workers 2, ${label}`,
        ours: twoThreads,
        peer: Math.max(...peerRps),
        peerName: 'autocannon (1 thread)',
        unit: 'req/s',
        higherIsBetter: true,
        note: `generator threads and target share the 2 cores; load ${load()}`,
      })
    }
    return peerRps
  } finally {
    target.child.kill('SIGTERM')
  }
}

/**
 * Pacing at 2,000 req/s against the trivial target, 10 s runs: send delay p99 (each send's
 * dispatch time minus its intended time) with the default pacing (`auto`, which is `precise` at
 * this rate), `--pacing timer` and `--pacing spin`, interleaved, and the generator's CPU beside.
 */
export async function pacingRows(): Promise<void> {
  const target = await startTarget('trivial')
  const PACINGS = ['precise', 'timer', 'spin'] as const
  try {
    const runs = Object.fromEntries(
      PACINGS.map((p) => [
        p,
        { p50: [] as number[], p99: [] as number[], cpu: [] as number[], loads: [] as string[] },
      ]),
    ) as Record<(typeof PACINGS)[number], { p50: number[]; p99: number[]; cpu: number[]; loads: string[] }>
    for (let round = 0; round < rounds; round++) {
      for (const pacing of PACINGS) {
        runs[pacing].loads.push(load())
        const args = [target.url, '-R', '2000', '-c', '50', '-d', '10s']
        const { report: r, cpu } = await oursRun(pacing === 'precise' ? args : [...args, '--pacing', pacing])
        if (r.plan.pacing !== pacing) throw new Error(`pacing bench: ran ${r.plan.pacing}, wanted ${pacing}`)
        runs[pacing].p50.push(r.sends.delay.percentiles.p50 ?? Number.NaN)
        runs[pacing].p99.push(r.sends.delay.percentiles.p99 ?? Number.NaN)
        runs[pacing].cpu.push(Math.round((cpu / 10) * 1000) / 10)
      }
    }
    for (const pacing of PACINGS) {
      const r = runs[pacing]
      const flag = pacing === 'precise' ? 'default (auto: precise)' : `--pacing ${pacing}`
      report({
        suite: 'loadtest',
        name: `pacing: send delay p99 against the intended time, 2000 req/s, trivial target, ${flag}`,
        ours: median(r.p99),
        peer: undefined,
        peerName: undefined,
        unit: 'ms',
        higherIsBetter: false,
        target: '<= 1 ms',
        note: `median of ${rounds} 10 s runs, interleaved with the other pacings; p99 per run ${r.p99.join(', ')} ms, p50 ${r.p50.join(', ')} ms; generator CPU ${r.cpu.join(', ')}% of a core; load ${r.loads.join(', ')}`,
      })
    }
  } finally {
    target.child.kill('SIGTERM')
  }
}
