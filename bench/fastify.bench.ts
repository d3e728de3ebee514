/**
 * Fastify layer benchmarks over real sockets: each server in its own process, autocannon as
 * the client in this one, ours and the peers measured in the same run.
 * SOAK_SECONDS (default 60) sets the length of the reference-server soak.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import autocannon from 'autocannon'
import { report } from './lib/harness.js'
import { rssBytes } from './lib/proc.js'

const SUITE = 'fastify'

interface Started {
  port: number
  child: ChildProcess
}

function start(mode: string, size = 'small'): Promise<Started> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', new URL('./lib/http-server.ts', import.meta.url).pathname, mode, size],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    )
    child.stdout?.once('data', (d) => resolve({ port: Number(String(d).trim()), child }))
    child.once('error', reject)
  })
}

type Result = autocannon.Result

function run(opts: autocannon.Options): Promise<Result> {
  return new Promise((resolve, reject) => {
    autocannon(opts, (err, res) => (err ? reject(err) : resolve(res)))
  })
}

async function rps(
  port: number,
  path: string,
  headers: Record<string, string> = {},
  extra: Partial<autocannon.Options> = {},
): Promise<Result> {
  return run({ url: `http://127.0.0.1:${port}${path}`, connections: 50, duration: 5, headers, ...extra })
}

/** Interleaved rounds (a, b, a, b, ...), the median of each: drift and other work hit both alike. */
async function compare(
  a: () => Promise<Result>,
  b: () => Promise<Result>,
  rounds = 5,
): Promise<[Result, Result]> {
  const as: Result[] = []
  const bs: Result[] = []
  for (let i = 0; i < rounds; i++) {
    as.push(await a())
    bs.push(await b())
  }
  const median = (xs: Result[]) =>
    [...xs].sort((x, y) => x.requests.average - y.requests.average)[Math.floor(xs.length / 2)] as Result
  return [median(as), median(bs)]
}

const SIZES = { small: '~1.7 KB', large: '~20 KB' } as const

async function layer(): Promise<void> {
  for (const size of ['small', 'large'] as const) await bodies(size)
  await coldAndLatency()
}

/** The hit path against plain Fastify and @fastify/compress, for one body size. */
async function bodies(size: 'small' | 'large'): Promise<void> {
  const plain = await start('plain', size)
  const ours = await start('hotpath', size)
  const peer = await start('compress', size)
  const label = `${SIZES[size]} JSON`
  try {
    await rps(plain.port, '/plain', {}, { duration: 2 })
    await rps(ours.port, '/cached', {}, { duration: 2 })
    const [c, p] = await compare(
      () => rps(ours.port, '/cached', {}, { duration: 3 }),
      () => rps(plain.port, '/plain', {}, { duration: 3 }),
    )
    report({
      suite: SUITE,
      name: `cached route vs plain Fastify route (same precomputed ${label})`,
      ours: c.requests.average,
      peer: p.requests.average,
      peerName: 'plain Fastify',
      unit: 'req/s',
      higherIsBetter: true,
      target: '>= 0.95x',
    })
    const br = { 'accept-encoding': 'br' }
    const [cb, fc] = await compare(
      () => rps(ours.port, '/cached', br, { duration: 3 }),
      () => rps(peer.port, '/plain', br, { duration: 3 }),
      3,
    )
    report({
      suite: SUITE,
      name: `br responses (${label}): our cached route vs @fastify/compress on the same body`,
      ours: cb.requests.average,
      peer: fc.requests.average,
      peerName: '@fastify/compress',
      unit: 'req/s',
      higherIsBetter: true,
    })
  } finally {
    for (const s of [plain, ours, peer]) s.child.kill('SIGTERM')
  }
}

/** Cold misses and tail latency (small body). */
async function coldAndLatency(): Promise<void> {
  const plain = await start('plain')
  const ours = await start('hotpath')
  try {
    // cold misses: a unique query string per request, every one a miss that is stored
    let n = 0
    const [miss, plain2] = await compare(
      () =>
        run({
          url: `http://127.0.0.1:${ours.port}/miss`,
          connections: 50,
          duration: 3,
          requests: [{ setupRequest: (req) => ({ ...req, path: `/miss?r=${n++}` }) }],
        }),
      () => rps(plain.port, '/plain', {}, { duration: 3 }),
      3,
    )
    report({
      suite: SUITE,
      name: 'cold-miss path (unique query per request: miss + store) vs plain route',
      ours: miss.requests.average,
      peer: plain2.requests.average,
      peerName: 'plain Fastify',
      unit: 'req/s',
      higherIsBetter: true,
      note: 'the overhead of keying, storing and hashing every response',
    })
    const fixed = { connections: 20, duration: 5, overallRate: 2000 }
    const [lc, lp] = await compare(
      () => rps(ours.port, '/cached', {}, fixed),
      () => rps(plain.port, '/plain', {}, fixed),
      1,
    )
    report({
      suite: SUITE,
      name: 'p99 latency at a fixed 2,000 req/s: cached route vs plain',
      ours: lc.latency.p99,
      peer: lp.latency.p99,
      peerName: 'plain Fastify',
      unit: 'ms',
      higherIsBetter: false,
    })
  } finally {
    for (const s of [plain, ours]) s.child.kill('SIGTERM')
  }
}

async function gateway(): Promise<void> {
  const gw = await start('gateway')
  try {
    await rps(gw.port, '/api/catalog', {}, { duration: 2 })
    const cat = await rps(
      gw.port,
      '/api/catalog',
      { 'accept-encoding': 'br' },
      { connections: 100, duration: 10 },
    )
    report({
      suite: SUITE,
      name: 'reference server: cached catalogue (br), 100 connections',
      ours: cat.requests.average,
      peer: undefined,
      peerName: undefined,
      unit: 'req/s',
      higherIsBetter: true,
      target: '> 15,000 req/s (seed)',
      note: `p99 ${cat.latency.p99} ms, errors ${cat.errors + cat.non2xx}`,
    })
    const paths = [
      '/api/catalog',
      '/api/catalog/1',
      '/api/catalog/42',
      '/api/aggregate',
      '/health',
      '/api/cache/stats',
    ]
    let i = 0
    const big = await run({
      url: `http://127.0.0.1:${gw.port}`,
      connections: 1000,
      duration: 10,
      requests: [{ setupRequest: (req) => ({ ...req, path: paths[i++ % paths.length] as string }) }],
    })
    const total = big.requests.total || 1
    report({
      suite: SUITE,
      name: 'reference server, all endpoints, 1,000 connections: p95 latency',
      ours: big.latency.p97_5 ?? big.latency.p99,
      peer: undefined,
      peerName: undefined,
      unit: 'ms',
      higherIsBetter: false,
      target: 'P95 < 100 ms',
      note: `p90 ${big.latency.p90} ms, p99 ${big.latency.p99} ms (autocannon reports p90/p97.5/p99; p97.5 shown as an upper bound of p95); ${big.requests.average.toFixed(0)} req/s; error rate ${(((big.errors + big.non2xx) / total) * 100).toFixed(2)}%`,
    })
    // soak: random query strings on cached routes; RSS sampled throughout
    const soakSeconds = Number(process.env.SOAK_SECONDS ?? 60)
    const rss: number[] = []
    const sampler = setInterval(() => rss.push(rssBytes(gw.child.pid as number)), 1000)
    let j = 0
    const soak = await run({
      url: `http://127.0.0.1:${gw.port}`,
      connections: 100,
      duration: soakSeconds,
      requests: [{ setupRequest: (req) => ({ ...req, path: `/api/catalog/${(j % 200) + 1}?r=${j++}` }) }],
    })
    clearInterval(sampler)
    const firstQuarter = rss.slice(0, Math.max(1, Math.floor(rss.length / 4)))
    const lastQuarter = rss.slice(-Math.max(1, Math.floor(rss.length / 4)))
    const avg = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length
    report({
      suite: SUITE,
      name: `reference server soak ${soakSeconds}s, random query strings on cached routes: peak RSS`,
      ours: Math.max(...rss) / 2 ** 20,
      peer: undefined,
      peerName: undefined,
      unit: 'MiB',
      higherIsBetter: false,
      target: '< 512 MiB and flat',
      note: `RSS first quarter avg ${(avg(firstQuarter) / 2 ** 20).toFixed(0)} MiB, last quarter ${(avg(lastQuarter) / 2 ** 20).toFixed(0)} MiB; ${soak.requests.average.toFixed(0)} req/s; errors ${soak.errors + soak.non2xx}`,
    })
  } finally {
    gw.child.kill('SIGTERM')
  }
}

export default {
  name: SUITE,
  async run(): Promise<void> {
    await layer()
    await gateway()
  },
}
