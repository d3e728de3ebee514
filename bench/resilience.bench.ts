/**
 * Resilience benchmarks against cockatiel 3, opossum 10 and rate-limiter-flexible, measured in
 * the same process run. See bench/README.md for recorded figures.
 */
import { spawn } from 'node:child_process'
import http from 'node:http'
import { performance } from 'node:perf_hooks'
import {
  ConsecutiveBreaker,
  circuitBreaker as cockatielBreaker,
  timeout as cockatielTimeout,
  handleAll,
  TimeoutStrategy,
} from 'cockatiel'
import { Redis } from 'ioredis'
import Opossum from 'opossum'
import { RateLimiterRedis } from 'rate-limiter-flexible'
import { isHotpathError } from '../src/errors.js'
import {
  adaptiveLimit,
  circuitBreaker,
  consecutive,
  createRateLimiter,
  timeout,
} from '../src/resilience/index.js'
import { cleanupPrefix, REDIS_URL, uniquePrefix } from '../test/helpers/services.js'
import { compareOps, concurrentOps, report } from './lib/harness.js'

const SUITE = 'resilience'

/** Overhead per call in ns: 1e9/ops(with) - 1e9/ops(bare). */
function overheadNs(withPolicy: number, bare: number): number {
  return Math.max(1, 1e9 / withPolicy - 1e9 / bare)
}

async function breakerOverhead(): Promise<void> {
  const ours = circuitBreaker({ breaker: consecutive(5), halfOpenAfter: '10s' })
  const theirs = cockatielBreaker(handleAll, { halfOpenAfter: 10_000, breaker: new ConsecutiveBreaker(5) })
  const opossum = new Opossum(async (x: number) => x)
  const ok = async () => 1
  const r = await compareOps({
    bare: async (n) => {
      for (let i = 0; i < n; i++) await ok()
    },
    ours: async (n) => {
      for (let i = 0; i < n; i++) await ours.execute(ok)
    },
    cockatiel: async (n) => {
      for (let i = 0; i < n; i++) await theirs.execute(ok)
    },
    opossum: async (n) => {
      for (let i = 0; i < n; i++) await opossum.fire(1)
    },
  })
  const o = overheadNs(r.ours as number, r.bare as number)
  report({
    suite: SUITE,
    name: 'circuit breaker overhead per successful call',
    ours: o,
    peer: overheadNs(r.cockatiel as number, r.bare as number),
    peerName: 'cockatiel 3',
    unit: 'ns',
    higherIsBetter: false,
    target: '<= cockatiel',
  })
  report({
    suite: SUITE,
    name: 'circuit breaker overhead per successful call',
    ours: o,
    peer: overheadNs(r.opossum as number, r.bare as number),
    peerName: 'opossum 10 (defaults)',
    unit: 'ns',
    higherIsBetter: false,
  })
  opossum.shutdown()

  // 40% of calls fail (two in five, never five in a row: the circuits stay closed)
  const oursF = circuitBreaker({ breaker: consecutive(5), halfOpenAfter: '10s' })
  const theirsF = cockatielBreaker(handleAll, { halfOpenAfter: 10_000, breaker: new ConsecutiveBreaker(5) })
  const opossumF = new Opossum(async (x: number) => {
    if (x % 5 < 2) throw new Error('fail')
    return x
  })
  const err = new Error('fail')
  const flaky = (i: number) => async () => {
    if (i % 5 < 2) throw err
    return i
  }
  const fns = Array.from({ length: 5 }, (_, i) => flaky(i))
  const f = await compareOps({
    bare: async (n) => {
      for (let i = 0; i < n; i++) await (fns[i % 5] as () => Promise<number>)().catch(() => 0)
    },
    ours: async (n) => {
      for (let i = 0; i < n; i++) await oursF.execute(fns[i % 5] as () => Promise<number>).catch(() => 0)
    },
    cockatiel: async (n) => {
      for (let i = 0; i < n; i++) await theirsF.execute(fns[i % 5] as () => Promise<number>).catch(() => 0)
    },
    opossum: async (n) => {
      for (let i = 0; i < n; i++) await opossumF.fire(i).catch(() => 0)
    },
  })
  const of = overheadNs(f.ours as number, f.bare as number)
  report({
    suite: SUITE,
    name: 'circuit breaker overhead per call, 40% failing',
    ours: of,
    peer: overheadNs(f.cockatiel as number, f.bare as number),
    peerName: 'cockatiel 3',
    unit: 'ns',
    higherIsBetter: false,
    target: '<= cockatiel',
  })
  report({
    suite: SUITE,
    name: 'circuit breaker overhead per call, 40% failing',
    ours: of,
    peer: overheadNs(f.opossum as number, f.bare as number),
    peerName: 'opossum 10 (defaults)',
    unit: 'ns',
    higherIsBetter: false,
  })
  opossumF.shutdown()
}

async function timeoutOverhead(): Promise<void> {
  const ours = timeout(1000)
  const theirs = cockatielTimeout(1000, TimeoutStrategy.Aggressive)
  const ok = async () => 1
  const r = await compareOps({
    bare: async (n) => {
      for (let i = 0; i < n; i++) await ok()
    },
    ours: async (n) => {
      for (let i = 0; i < n; i++) await ours.execute(ok)
    },
    cockatiel: async (n) => {
      for (let i = 0; i < n; i++) await theirs.execute(ok)
    },
  })
  report({
    suite: SUITE,
    name: 'timeout overhead per call (async function, 1s timeout)',
    ours: overheadNs(r.ours as number, r.bare as number),
    peer: overheadNs(r.cockatiel as number, r.bare as number),
    peerName: 'cockatiel 3 timeout(Aggressive)',
    unit: 'ns',
    higherIsBetter: false,
    target: '<= 1/10 of cockatiel (ratio >= 10x)',
  })
}

async function redisLimiter(): Promise<void> {
  const prefix = uniquePrefix('bench-rl')
  const oursClient = new Redis(REDIS_URL, { enableAutoPipelining: true })
  const theirClient = new Redis(REDIS_URL, { enableAutoPipelining: true })
  const ours = createRateLimiter({
    redis: oursClient,
    prefix: `${prefix}o:`,
    limit: 1e9,
    window: '1m',
    timeout: '1s',
  })
  const theirs = new RateLimiterRedis({
    storeClient: theirClient,
    keyPrefix: `${prefix}t`,
    points: 1e9,
    duration: 60,
  })
  const keys = Array.from({ length: 1000 }, (_, i) => `user:${i}`)
  const count = 100_000
  await concurrentOps((i) => ours.consume(keys[i % 1000] as string), { count: 10_000, concurrency: 100 })
  await concurrentOps((i) => theirs.consume(keys[i % 1000] as string), { count: 10_000, concurrency: 100 })
  const results: Record<string, number[]> = { ours: [], theirs: [] }
  for (let round = 0; round < 3; round++) {
    results.ours?.push(
      await concurrentOps((i) => ours.consume(keys[i % 1000] as string), { count, concurrency: 100 }),
    )
    results.theirs?.push(
      await concurrentOps((i) => theirs.consume(keys[i % 1000] as string), { count, concurrency: 100 }),
    )
  }
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[1] as number
  report({
    suite: SUITE,
    name: 'Redis rate limiter decisions/s, 100 concurrent callers, 1,000 keys',
    ours: med(results.ours as number[]),
    peer: med(results.theirs as number[]),
    peerName: 'rate-limiter-flexible RateLimiterRedis',
    unit: 'ops/s',
    higherIsBetter: true,
    target: '>= 1.5x',
  })
  oursClient.disconnect()
  theirClient.disconnect()
  await cleanupPrefix(prefix)
}

interface LoadResult {
  goodput: number
  p99: number
  sent: number
  shed: number
  errors: number
}

export function startServer(workers: number, serviceMs: number): Promise<{ port: number; stop: () => void }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        new URL('./lib/capacity-server.ts', import.meta.url).pathname,
        String(workers),
        String(serviceMs),
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    )
    child.stdout.once('data', (d) =>
      resolve({ port: Number(String(d).trim()), stop: () => child.kill('SIGTERM') }),
    )
    child.once('error', reject)
  })
}

/** Open-loop load at `rate` req/s for `seconds`, through `gate` (the adaptive limit or nothing). */
export async function drive(
  port: number,
  rate: number,
  seconds: number,
  gate?: ReturnType<typeof adaptiveLimit>,
): Promise<LoadResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 512 })
  const latencies: number[] = []
  let shed = 0
  let errors = 0
  let sent = 0
  const request = () =>
    new Promise<void>((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port, path: '/', agent, timeout: 2000 }, (res) => {
        res.resume()
        res.on('end', () => resolve())
      })
      req.on('timeout', () => req.destroy(new Error('timeout')))
      req.on('error', reject)
    })
  const t0 = performance.now()
  const total = rate * seconds
  const inflight: Array<Promise<void>> = []
  for (let i = 0; i < total; i++) {
    const intended = t0 + (i * 1000) / rate
    const wait = intended - performance.now()
    if (wait > 1) await new Promise((r) => setTimeout(r, wait))
    sent++
    const start = intended // latency from the intended send time (no coordinated omission)
    const call = gate ? gate.execute(() => request()) : request()
    inflight.push(
      call.then(
        () => {
          latencies.push(performance.now() - start)
        },
        (e: unknown) => {
          if (isHotpathError(e, 'E_LIMIT_EXCEEDED')) shed++
          else errors++
        },
      ),
    )
  }
  await Promise.all(inflight)
  const elapsed = (performance.now() - t0) / 1000
  agent.destroy()
  latencies.sort((a, b) => a - b)
  return {
    goodput: latencies.length / elapsed,
    p99: latencies[Math.floor(latencies.length * 0.99)] ?? Number.NaN,
    sent,
    shed,
    errors,
  }
}

async function adaptive(): Promise<void> {
  const workers = 4
  const serviceMs = 10
  const capacity = (workers * 1000) / serviceMs
  const server = await startServer(workers, serviceMs)
  try {
    const unloaded = await drive(server.port, capacity / 4, 2)
    const tuned = {
      algorithm: 'vegas',
      initialLimit: 4,
      maxLimit: 200,
      vegas: { alpha: 2, beta: 4 },
    } as const
    const withLimit = await drive(server.port, capacity * 2, 4, adaptiveLimit(tuned))
    const defaults = await drive(
      server.port,
      capacity * 2,
      4,
      adaptiveLimit({ initialLimit: 4, maxLimit: 200 }),
    )
    const gradient2 = await drive(
      server.port,
      capacity * 2,
      4,
      adaptiveLimit({ algorithm: 'gradient2', initialLimit: 4, maxLimit: 200 }),
    )
    const without = await drive(server.port, capacity * 2, 4)
    report({
      suite: SUITE,
      name: `adaptive limit (vegas alpha 2, beta 4), server capacity ${capacity} req/s driven at 2x: goodput / capacity`,
      ours: withLimit.goodput / capacity,
      peer: without.goodput / capacity,
      peerName: 'no limit',
      unit: 'x',
      higherIsBetter: true,
      target: '>= 0.9',
      note: `shed ${withLimit.shed} of ${withLimit.sent}; no limit: ${without.errors} errors (2s client timeout)`,
    })
    report({
      suite: SUITE,
      name: 'adaptive limit (vegas alpha 2, beta 4): p99 of admitted calls / unloaded p99',
      ours: withLimit.p99 / unloaded.p99,
      peer: without.p99 / unloaded.p99,
      peerName: 'no limit',
      unit: 'x',
      higherIsBetter: false,
      target: '<= 2',
      note: `unloaded p99 ${unloaded.p99.toFixed(1)} ms, with limit ${withLimit.p99.toFixed(1)} ms, without ${without.p99.toFixed(0)} ms; default vegas (3/6): ${(defaults.p99 / unloaded.p99).toFixed(2)}x at goodput ${(defaults.goodput / capacity).toFixed(2)}; gradient2: ${(gradient2.p99 / unloaded.p99).toFixed(2)}x at goodput ${(gradient2.goodput / capacity).toFixed(2)}`,
    })
  } finally {
    server.stop()
  }
}

export default {
  name: SUITE,
  async run(): Promise<void> {
    await breakerOverhead()
    await timeoutOverhead()
    await redisLimiter()
    await adaptive()
  },
}
