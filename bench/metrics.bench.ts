/**
 * Metrics benchmarks against bare prom-client, measured in the same process run.
 */
import { performance } from 'node:perf_hooks'
import { Redis } from 'ioredis'
import { Histogram, Registry } from 'prom-client'
import { createMonitor, instrumentRedis } from '../src/metrics/index.js'
import { compareOps, report } from './lib/harness.js'

const SUITE = 'metrics'
let sink = 0

async function measureOverhead(): Promise<void> {
  const monitor = createMonitor({ enabled: false, runtime: false, env: {} })
  const registry = new Registry()
  const hist = new Histogram({
    name: 'bare_seconds',
    help: 'bare',
    labelNames: ['operation'],
    registers: [registry],
  })
  const work = () => {
    sink = (sink + 1) | 0
    return sink
  }
  const r = await compareOps({
    none: (n) => {
      for (let i = 0; i < n; i++) work()
    },
    ours: (n) => {
      for (let i = 0; i < n; i++) monitor.measure('op', work)
    },
    promClient: (n) => {
      for (let i = 0; i < n; i++) {
        const t0 = performance.now()
        work()
        hist.observe({ operation: 'op' }, (performance.now() - t0) / 1000)
      }
    },
  })
  const ns = (x: number) => 1e9 / x - 1e9 / (r.none as number)
  report({
    suite: SUITE,
    name: 'measure() overhead per call (sync work; histogram + per-op stats)',
    ours: ns(r.ours as number),
    peer: ns(r.promClient as number),
    peerName: 'prom-client histogram.observe() with labels + performance.now()',
    unit: 'ns',
    higherIsBetter: false,
    note: `no instrumentation: ${(1e9 / (r.none as number)).toFixed(1)} ns per call`,
  })
}

async function scrapeBlocking(): Promise<void> {
  const monitor = createMonitor({ enabled: false, runtime: false, env: {}, maxSeriesPerMetric: 100_000 })
  // 10,000 series: 100 counters x 100 label values
  for (let m = 0; m < 100; m++) {
    const c = monitor.counter(`hotpath_bench_${m}_total`, 'bench', ['k'])
    for (let i = 0; i < 100; i++) c.inc({ k: `v${i}` }, i)
  }
  // the longest gap between two turns of the event loop during one scrape (a setImmediate ping)
  const maxLag = async (scrape: () => Promise<string>) => {
    // no forced GC: collections land where allocation puts them, as in a server
    let worst = 0
    let last = performance.now()
    let stop = false
    const ping = () => {
      const now = performance.now()
      worst = Math.max(worst, now - last)
      last = now
      if (!stop) setImmediate(ping)
    }
    setImmediate(ping)
    const t0 = performance.now()
    const bytes = (await scrape()).length
    const ms = performance.now() - t0
    stop = true
    await new Promise((r) => setImmediate(r))
    return { worst, ms, bytes }
  }
  const ourScrape = () => monitor.metrics()
  const theirScrape = () => monitor.registry.metrics()
  for (let i = 0; i < 3; i++) {
    await maxLag(ourScrape)
    await maxLag(theirScrape)
  }
  // interleaved rounds (alternating who goes first); the median of each side's worst stall
  const ours: Array<{ worst: number; ms: number; bytes: number }> = []
  const theirs: Array<{ worst: number; ms: number; bytes: number }> = []
  for (let round = 0; round < 41; round++) {
    if (round % 2 === 0) {
      ours.push(await maxLag(ourScrape))
      theirs.push(await maxLag(theirScrape))
    } else {
      theirs.push(await maxLag(theirScrape))
      ours.push(await maxLag(ourScrape))
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1] as number
  report({
    suite: SUITE,
    name: 'longest event-loop stall during a scrape of 10,000 series (median of 41 interleaved rounds)',
    ours: median(ours.map((r) => r.worst)),
    peer: median(theirs.map((r) => r.worst)),
    peerName: 'prom-client registry.metrics()',
    unit: 'ms',
    higherIsBetter: false,
    note: `scrape takes ${median(ours.map((r) => r.ms)).toFixed(1)} ms (ours) vs ${median(theirs.map((r) => r.ms)).toFixed(1)} ms; ${((ours[0]?.bytes ?? 0) / 1024).toFixed(0)} KiB, identical text; worst round ours ${Math.max(...ours.map((r) => r.worst)).toFixed(1)} ms, theirs ${Math.max(...theirs.map((r) => r.worst)).toFixed(1)} ms`,
  })
}

async function redisOverhead(): Promise<void> {
  const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
  const monitor = createMonitor({ enabled: false, runtime: false, env: {} })
  const plain = new Redis(url, { enableAutoPipelining: true })
  const instrumented = new Redis(url, { enableAutoPipelining: true })
  const redis = instrumentRedis(instrumented, { monitor, name: 'bench', healthCheck: false })
  await Promise.all([plain.ping(), instrumented.ping()])
  const key = `bench:metrics:${process.pid}`
  await plain.set(key, 'x')
  // 200 concurrent GETs per batch: auto-pipelined, as a busy server sends them
  const batch = (client: Redis) => async (n: number) => {
    for (let i = 0; i < n; i += 200) {
      const ps: Promise<unknown>[] = []
      for (let j = 0; j < 200; j++) ps.push(client.get(key))
      await Promise.all(ps)
    }
  }
  const r = await compareOps({ ours: batch(instrumented), plain: batch(plain) }, { rounds: 9, roundMs: 300 })
  const perCmd = (x: number) => 1e9 / x
  report({
    suite: SUITE,
    name: 'ioredis GET throughput with instrumentRedis() (auto-pipelined, 200 in flight)',
    ours: r.ours as number,
    peer: r.plain as number,
    peerName: 'the same client uninstrumented',
    unit: 'ops/s',
    higherIsBetter: true,
    note: `overhead ${(perCmd(r.ours as number) - perCmd(r.plain as number)).toFixed(0)} ns per command`,
  })
  await plain.del(key)
  redis.dispose()
  plain.disconnect()
  instrumented.disconnect()
}

export default {
  name: SUITE,
  async run(): Promise<void> {
    await measureOverhead()
    await scrapeBlocking()
    await redisOverhead()
  },
}
