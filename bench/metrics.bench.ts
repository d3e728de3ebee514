/**
 * Metrics benchmarks against bare prom-client, measured in the same process run.
 */
import { performance } from 'node:perf_hooks'
import { Histogram, Registry } from 'prom-client'
import { createMonitor } from '../src/metrics/index.js'
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
  // the longest gap between two turns of the event loop while scraping (a setImmediate ping)
  const maxLag = async (scrape: () => Promise<string>) => {
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
    let bytes = 0
    const t0 = performance.now()
    for (let i = 0; i < 5; i++) bytes += (await scrape()).length
    const ms = (performance.now() - t0) / 5
    stop = true
    await new Promise((r) => setImmediate(r))
    return { worst, ms, bytes }
  }
  await maxLag(() => monitor.metrics())
  await maxLag(() => monitor.registry.metrics())
  const ours = await maxLag(() => monitor.metrics())
  const theirs = await maxLag(() => monitor.registry.metrics())
  report({
    suite: SUITE,
    name: 'longest event-loop stall during a scrape of 10,000 series',
    ours: ours.worst,
    peer: theirs.worst,
    peerName: 'prom-client registry.metrics()',
    unit: 'ms',
    higherIsBetter: false,
    note: `scrape takes ${ours.ms.toFixed(1)} ms (ours) vs ${theirs.ms.toFixed(1)} ms; ${(ours.bytes / 5 / 1024).toFixed(0)} KiB`,
  })
}

export default {
  name: SUITE,
  async run(): Promise<void> {
    await measureOverhead()
    await scrapeBlocking()
  },
}
