/**
 * The load-test bench's CPU and breaking-point rows. CPU per request is the generator's own CPU
 * (bash `times`), startup removed by differencing a long and a short run at the same load. The
 * breaking point is checked against a 10-step constant-rate sweep of the reference server.
 */
import { spawnSync } from 'node:child_process'
import { type BreakingPointResult, judgeStep, knee, type StepResult } from '../src/loadtest/index.js'
import { report } from './lib/harness.js'
import { load, rounds } from './loadtest-capacity.js'
import { autocannonRun, generator, oursRun, startReferenceServer } from './loadtest-gen.js'

const SHORT_S = 2
const LONG_S = 8

/** A generator run: the requests it completed and the CPU seconds it used (all, and user-space). */
type Run = (seconds: number) => Promise<{ requests: number; cpu: number; user: number }>

/**
 * CPU microseconds per request of each generator, a long run minus a short one (startup cancels
 * out), the generators interleaved in `rounds` rounds (short runs of all, then long runs of all);
 * the median of the rounds, and every round's figure.
 */
async function perRequest(runs: Run[]): Promise<Cpu[]> {
  const each: number[][] = runs.map(() => [])
  const userEach: number[][] = runs.map(() => [])
  for (let round = 0; round < rounds; round++) {
    const short = []
    for (const run of runs) short.push(await run(SHORT_S))
    for (const [i, run] of runs.entries()) {
      const long = await run(LONG_S)
      const s = short[i] as { requests: number; cpu: number; user: number }
      const n = Math.max(1, long.requests - s.requests)
      each[i]?.push(((long.cpu - s.cpu) * 1e6) / n)
      userEach[i]?.push(((long.user - s.user) * 1e6) / n)
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number
  return each.map((xs, i) => ({
    median: median(xs),
    each: xs,
    user: median(userEach[i] as number[]),
    userEach: userEach[i] as number[],
  }))
}

const us = (xs: number[]): string => xs.map((x) => x.toFixed(1)).join(', ')

/** A `hotpath loadtest` run as a `Run`. */
function oursAt(url: string, args: string[]): Run {
  return async (s) => {
    const r = await oursRun([url, ...args, '-d', `${s}s`])
    return { requests: r.report.requests, cpu: r.cpu, user: r.user }
  }
}

/** An autocannon run as a `Run`. */
function autocannonAt(url: string, args: string[]): Run {
  return async (s) => {
    const r = await autocannonRun([...args, '-d', String(s), url])
    return { requests: r.report.requests.total, cpu: r.cpu, user: r.user }
  }
}

/**
 * CPU per request at a fixed 10,000 req/s (ours, autocannon -R, ours --client undici) and closed
 * loop (ours, autocannon, wrk when installed: wrk has no fixed-rate mode, so its closed-loop
 * figure stands beside the fixed-rate row).
 */
export async function cpuRows(url: string): Promise<void> {
  const rate = ['-R', '10000', '-c', '50']
  const closed = ['-c', '50']
  const hasWrk = spawnSync('sh', ['-c', 'command -v wrk']).status === 0
  const wrk: Run = async (s) => {
    const r = await generator('wrk', ['-c', '50', '-t', '1', '-d', `${s}s`, url])
    return { requests: Number(/(\d+) requests in/.exec(r.out)?.[1] ?? Number.NaN), cpu: r.cpu, user: r.user }
  }
  const loadFixed = load()
  const [oursFixed, acFixed, undiciFixed] = (await perRequest([
    oursAt(url, rate),
    autocannonAt(url, rate),
    oursAt(url, [...rate, '--client', 'undici']),
  ])) as [Cpu, Cpu, Cpu]
  const loadClosed = load()
  const [oursClosed, acClosed, wrkClosed] = (await perRequest([
    oursAt(url, closed),
    autocannonAt(url, closed),
    ...(hasWrk ? [wrk] : []),
  ])) as [Cpu, Cpu, Cpu | undefined]
  const wrkNote =
    wrkClosed === undefined
      ? 'wrk not installed (apt-get install wrk)'
      : `wrk (closed loop, no fixed-rate mode) ${wrkClosed.median.toFixed(1)} us`
  report({
    suite: 'loadtest',
    name: 'generator CPU per request at a fixed 10,000 req/s, 50 connections, trivial target',
    ours: oursFixed.median,
    peer: acFixed.median,
    peerName: 'autocannon -R',
    unit: 'us',
    higherIsBetter: false,
    target: "<= autocannon's",
    note: `user + system of the generator process, ${LONG_S} s run minus ${SHORT_S} s run, median of ${rounds} interleaved rounds; per round ours ${us(oursFixed.each)}, autocannon ${us(acFixed.each)}; beside: ${wrkNote}; load ${loadFixed}`,
  })
  // The same runs split: user-space CPU (the generators' own code) and system time (on loopback
  // it also carries the target's TCP receive path and its wake-ups, run in the sender's write).
  report({
    suite: 'loadtest',
    name: 'generator user-space CPU per request at a fixed 10,000 req/s (the same runs, user time only)',
    ours: oursFixed.user,
    peer: acFixed.user,
    peerName: 'autocannon -R',
    unit: 'us',
    higherIsBetter: false,
    note: `user time only, same runs; per round ours ${us(oursFixed.userEach)}, autocannon ${us(acFixed.userEach)}; system time per request ours ${(oursFixed.median - oursFixed.user).toFixed(1)}, autocannon ${(acFixed.median - acFixed.user).toFixed(1)} us`,
  })
  report({
    suite: 'loadtest',
    name: 'generator CPU per request at a fixed 10,000 req/s, --client undici (the undici path)',
    ours: undiciFixed.median,
    peer: acFixed.median,
    peerName: 'autocannon -R',
    unit: 'us',
    higherIsBetter: false,
    note: `per round ${us(undiciFixed.each)}`,
  })
  report({
    suite: 'loadtest',
    name: 'generator CPU per request, closed loop, 50 connections, trivial target',
    ours: oursClosed.median,
    peer: acClosed.median,
    peerName: 'autocannon',
    unit: 'us',
    higherIsBetter: false,
    note: `median of ${rounds} interleaved rounds; per round ours ${us(oursClosed.each)}, autocannon ${us(acClosed.each)}; load ${loadClosed}`,
  })
  if (wrkClosed === undefined) {
    console.log('  wrk CPU per request: not installed (apt-get install wrk to add it to this comparison)')
    return
  }
  report({
    suite: 'loadtest',
    name: 'generator CPU per request, closed loop, 50 connections (wrk, 1 thread, C)',
    ours: oursClosed.median,
    peer: wrkClosed.median,
    peerName: 'wrk',
    unit: 'us',
    higherIsBetter: false,
    note: `per round wrk ${us(wrkClosed.each)}`,
  })
}

/** CPU µs per request: user + system (`median`, `each` round) and user-space alone (`user`, `userEach`). */
type Cpu = { median: number; each: number[]; user: number; userEach: number[] }

/**
 * `--breaking-point` against the reference server's /health/live, then a 10-step constant-rate
 * sweep that checks it: 5 s steps at 55%, 65%, ... 145% of the sustainable rate the search
 * reported (10% apart, so the sweep can place the break to 10%; a sweep anchored elsewhere, as on
 * autocannon's closed-loop capacity, has steps 12-20% of the knee apart and cannot), judged by
 * the search's own verdict (judgeStep: steady throughput >= 95% of offered, p99 <= 1 s, errors
 * <= 1%), with 1 s of quiet between steps so one step's backlog does not spill into the next.
 * The sweep's knee is
 * its highest rate that held below its first broken one; if the search were off by more than a
 * step, the sweep shows it.
 */
export async function breakingPointRows(): Promise<void> {
  const server = await startReferenceServer()
  try {
    const target = new URL('/health/live', server.url).href
    const started = Date.now()
    const search = (await generatorJson<BreakingPointResult>([
      '--breaking-point',
      target,
    ])) as BreakingPointResult
    const searchMs = Date.now() - started
    const found = search.maxSustainable
    const sweep: StepResult[] = []
    for (let i = 0; i < 10; i++) {
      const rate = Math.round(found * (0.55 + i * 0.1))
      await new Promise((r) => setTimeout(r, 1000))
      const r = (await oursRun([target, '-R', String(rate), '-c', '50', '-d', '5s'])).report
      sweep.push(judgeStep('ramp', rate, r, 1000, 0.01))
    }
    const firstBroken = sweep.find((s) => !s.ok)?.rate
    const held = sweep
      .filter((s) => s.ok && (firstBroken === undefined || s.rate < firstBroken))
      .map((s) => s.rate)
    const sweepKnee = held.length === 0 ? Number.NaN : Math.max(...held)
    const steps = sweep
      .map((s) => `${s.rate}:${s.p50.toFixed(1)}/${s.p99.toFixed(0)}${s.ok ? '' : '!'}`)
      .join(' ')
    report({
      suite: 'loadtest',
      name: 'breaking point: sustainable rate found by --breaking-point vs the knee of a 10-step constant-rate sweep around it (reference server /health/live)',
      ours: found,
      peer: sweepKnee,
      peerName: 'sweep knee (highest rate held)',
      unit: 'req/s',
      higherIsBetter: true,
      target: 'within 10% (ratio 0.9-1.1), search <= 3 min',
      note: `load ${load()}; search took ${(searchMs / 1000).toFixed(0)} s, ${search.steps.length} steps, first broken ${search.firstBroken}/s, Kneedle knee of its steps ${search.knee}/s (of the sweep's ${knee(sweep)}/s); sweep first broke at ${firstBroken ?? 'none'}/s; sweep rate:p50/p99 ms (! broke) ${steps}`,
    })
  } finally {
    server.child.kill('SIGTERM')
  }
}

/** `hotpath loadtest <args> --json` parsed (the breaking point's result is not a report). */
async function generatorJson<T>(args: string[]): Promise<T> {
  return (await oursRun(args)).report as unknown as T
}
