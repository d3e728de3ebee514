/**
 * The seeds' server targets on the reference server, measured with hotpath's own load tester:
 * `hotpath serve` (embedded defaults: PGlite catalogue, memory bus, no Redis) in its own process,
 * driven by `hotpath loadtest` (the built binary when dist/ exists) in another.
 *   - every endpoint, one at a time, 1,000 users on 1,000 connections (closed model, 1 s think
 *     time: about 1,000 req/s offered): p95 < 100 ms and errors < 1%
 *   - the cached catalogue (br): > 15,000 req/s (100 connections)
 *   - soak: RSS < 512 MiB and flat (SERVER_SOAK_SECONDS, default 60; the seeds say 10 minutes)
 * SERVER_BENCH_SECONDS sets each endpoint's run (default 8); SERVER_BENCH_ONLY picks parts.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { LoadTestReport } from '../src/loadtest/index.js'
import { freePort } from '../test/helpers/services.js'
import { report } from './lib/harness.js'
import { rssBytes } from './lib/proc.js'

const SUITE = 'server'
const root = fileURLToPath(new URL('..', import.meta.url))
const seconds = Number(process.env.SERVER_BENCH_SECONDS ?? 8)
const soakSeconds = Number(process.env.SERVER_SOAK_SECONDS ?? 60)
const USER = 'Bearer token-alice'

/** The binary: the built one when dist/ exists (what users run), otherwise the sources through tsx. */
const bin = existsSync(`${root}dist/cli/main.js`)
  ? [`${root}dist/cli/main.js`]
  : ['--import', 'tsx', `${root}src/cli/main.ts`]

async function startServer(): Promise<{ child: ChildProcess; base: string }> {
  const port = await freePort()
  const child = spawn(process.execPath, [...bin, 'serve', '--port', String(port), '--host', '127.0.0.1'], {
    cwd: root,
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, LOG_LEVEL: 'warn', REDIS_URL: '', DATABASE_URL: '', NATS_URL: '' },
  })
  const base = `http://127.0.0.1:${port}`
  for (let i = 0; i < 300; i++) {
    const ok = await fetch(`${base}/health/ready`).then(
      (r) => r.ok,
      () => false,
    )
    if (ok) return { child, base }
    await new Promise((r) => setTimeout(r, 100))
  }
  child.kill('SIGKILL')
  throw new Error('the reference server did not become ready in 30 s')
}

/** Runs `hotpath loadtest` in its own process; returns its JSON report. */
function loadtest(args: string[]): Promise<LoadTestReport> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...bin, 'loadtest', ...args, '--json', '-q', '--scrape', 'off'], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    let out = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d
    })
    child.once('error', reject)
    child.once('exit', () => {
      try {
        resolve(JSON.parse(out) as LoadTestReport)
      } catch {
        reject(new Error(`hotpath loadtest printed no JSON report: ${out.slice(0, 300)}`))
      }
    })
  })
}

interface Endpoint {
  name: string
  path: string
  method?: string
  headers?: string[]
  body?: string
}

/** Every endpoint a client uses (the rate-limit demo `/api/limited` answers 429 by design: left out). */
const ENDPOINTS: Endpoint[] = [
  { name: 'GET /', path: '/' },
  { name: 'GET /health', path: '/health' },
  { name: 'GET /api/catalog (br)', path: '/api/catalog', headers: ['accept-encoding: br'] },
  { name: 'GET /api/catalog/42', path: '/api/catalog/42' },
  { name: 'GET /api/aggregate', path: '/api/aggregate' },
  { name: 'GET /api/whoami', path: '/api/whoami', headers: [`authorization: ${USER}`] },
  { name: 'GET /api/cache/stats', path: '/api/cache/stats' },
  { name: 'GET /api/metrics', path: '/api/metrics' },
  { name: 'GET /api/agents/quote/7', path: '/api/agents/quote/7' },
  { name: 'GET /api/agents', path: '/api/agents' },
  {
    name: 'POST /api/catalog/9 (a write: invalidates)',
    path: '/api/catalog/9',
    method: 'POST',
    headers: [`authorization: ${USER}`, 'content-type: application/json'],
    body: '{"stock":5}',
  },
  {
    name: 'POST /api/agents/restock',
    path: '/api/agents/restock',
    method: 'POST',
    headers: [`authorization: ${USER}`, 'content-type: application/json'],
    body: '{"id":3,"amount":1}',
  },
]

async function everyEndpoint(base: string): Promise<void> {
  for (const e of ENDPOINTS) {
    // 1,000 users on 1,000 connections, each sending again 1 s after its answer (about 1,000
    // req/s offered): the seeds' "1,000 concurrent connections". Back to back, with no pause,
    // latency is just 1,000 / throughput (Little's law) and measures capacity instead
    const args = [`${base}${e.path}`, '-u', '1000', '-c', '1000', '--think', '1s', '-d', `${seconds}s`]
    if (e.method !== undefined) args.push('-m', e.method)
    for (const h of e.headers ?? []) args.push('-H', h)
    if (e.body !== undefined) args.push('-b', e.body)
    const r = await loadtest(args)
    const p = r.latency.corrected.percentiles
    report({
      suite: SUITE,
      name: `${e.name}, 1,000 users/connections, 1 s think: p95`,
      ours: p.p95 ?? Number.NaN,
      peer: undefined,
      peerName: undefined,
      unit: 'ms',
      higherIsBetter: false,
      target: 'p95 < 100 ms, errors < 1%',
      note: `p50 ${p.p50} ms, p99 ${p.p99} ms; ${r.rps.toFixed(0)} req/s; errors ${(r.errorRate * 100).toFixed(2)}% (statuses ${JSON.stringify(r.statuses)})`,
    })
  }
}

async function cached(base: string): Promise<void> {
  const r = await loadtest([
    `${base}/api/catalog`,
    '-c',
    '100',
    '-d',
    `${seconds}s`,
    '-H',
    'accept-encoding: br',
  ])
  report({
    suite: SUITE,
    name: 'cached catalogue (br), 100 connections',
    ours: r.rps,
    peer: undefined,
    peerName: undefined,
    unit: 'req/s',
    higherIsBetter: true,
    target: '> 15,000 req/s (seed)',
    note: `p99 ${r.latency.corrected.percentiles.p99} ms; errors ${(r.errorRate * 100).toFixed(2)}%`,
  })
}

/** The first child of `pid` (the server `hotpath serve` started), if any. */
function childOf(pid: number): number | undefined {
  try {
    const c = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/)[0]
    return c === undefined || c === '' ? undefined : Number(c)
  } catch {
    return undefined
  }
}

async function soak(base: string, pid: number): Promise<void> {
  // the tree (the `hotpath serve` launcher, ~45 MiB, plus the server it starts) is the figure;
  // the server process alone is in the note
  const rss: number[] = []
  const server: number[] = []
  const sampler = setInterval(() => {
    rss.push(rssBytes(pid, true) / 2 ** 20)
    server.push(rssBytes(childOf(pid) ?? pid) / 2 ** 20)
  }, 1000)
  // a random query string on the cached catalogue: every request a new cache entry (the cache's
  // bound is what keeps RSS flat)
  const dir = mkdtempSync(join(tmpdir(), 'hotpath-soak-'))
  const file = join(dir, 'soak.json')
  writeFileSync(
    file,
    JSON.stringify({
      name: 'soak',
      target: base,
      connections: 100,
      duration: `${soakSeconds}s`,
      steps: [{ path: '/api/catalog?r={{vu}}-{{iteration}}' }],
    }),
  )
  const r = await loadtest(['-s', file]).finally(() => rmSync(dir, { recursive: true, force: true }))
  clearInterval(sampler)
  const q = Math.max(1, Math.floor(rss.length / 4))
  const avg = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length
  report({
    suite: SUITE,
    name: `soak ${soakSeconds} s, a new cache entry per request: peak RSS`,
    ours: Math.max(...rss),
    peer: undefined,
    peerName: undefined,
    unit: 'MiB',
    higherIsBetter: false,
    target: '< 512 MiB and flat',
    note: `first quarter ${avg(rss.slice(0, q)).toFixed(0)} MiB, last quarter ${avg(rss.slice(-q)).toFixed(0)} MiB; the server process alone: peak ${Math.max(...server).toFixed(0)}, last quarter ${avg(server.slice(-q)).toFixed(0)} MiB; ${r.requests} requests (${r.rps.toFixed(0)} req/s), errors ${(r.errorRate * 100).toFixed(2)}% (statuses ${JSON.stringify(r.statuses)}, error kinds ${JSON.stringify(r.errorKinds)})`,
  })
}

export default {
  name: 'server: the seeds targets on the reference server, with hotpath loadtest',
  async run(): Promise<void> {
    const { child, base } = await startServer()
    try {
      // SERVER_BENCH_ONLY=cached,soak,endpoints runs a subset; reads first: the writes leave work
      // behind (invalidations, queued restocks)
      const only = process.env.SERVER_BENCH_ONLY?.split(',')
      const want = (part: string) => only === undefined || only.includes(part)
      if (want('cached')) await cached(base)
      if (want('soak')) await soak(base, child.pid as number)
      if (want('endpoints')) await everyEndpoint(base)
    } finally {
      child.kill('SIGTERM')
    }
  },
}
