/**
 * Dashboard benchmarks. A trivial route's req/s in four servers, measured in interleaved rounds
 * (DASHBOARD_BENCH_ROUNDS, default 8), a fresh process of each per round, in this run: bare
 * Fastify; the monitor (request metrics through the hotpath plugin) alone; the same with the
 * dashboard on and 5 pages streaming at 1 Hz; fastify-metrics (v13, route histograms and default
 * metrics). And the page's weight, gzipped, everything included.
 * Run as `node --import tsx bench/dashboard.bench.ts serve <mode>` it is one of the servers.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import http from 'node:http'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'
import autocannon from 'autocannon'
import { report } from './lib/harness.js'
import { PIN, pinProcess } from './lib/proc.js'

const SUITE = 'dashboard'
const TOKEN = 'bench-dashboard-token-0123'
const CLIENTS = 5
/** Interleaved rounds of the throughput comparison. */
const ROUNDS = Number(process.env.DASHBOARD_BENCH_ROUNDS ?? 8)

type Mode = 'bare' | 'monitor' | 'dashboard' | 'fastify-metrics'

/** The server side: one mode per process, prints its port. */
async function serve(mode: Mode): Promise<void> {
  const { default: Fastify } = await import('fastify')
  const app = Fastify({ logger: false })
  if (mode === 'dashboard' || mode === 'monitor') {
    const { createMonitor } = await import('../src/metrics/index.js')
    const { default: hotpath } = await import('../src/fastify/index.js')
    const monitor = createMonitor({ env: {} })
    await app.register(hotpath, { monitor, compression: false })
    if (mode === 'dashboard') {
      const { createDashboard, dashboardPlugin } = await import('../src/dashboard/index.js')
      const dashboard = createDashboard({ monitor, interval: '1s', window: '1h' })
      await app.register(dashboardPlugin, { dashboard, token: TOKEN })
    }
  } else if (mode === 'fastify-metrics') {
    const { default: metrics } = await import('fastify-metrics')
    await app.register(metrics as never, { endpoint: '/metrics' })
  }
  app.get('/t', async () => ({ ok: true }))
  const address = await app.listen({ port: 0, host: '127.0.0.1' })
  process.stdout.write(`${new URL(address).port}\n`)
  process.on('SIGTERM', () => process.exit(0))
}

interface Started {
  port: number
  child: ChildProcess
}

/**
 * CPU pinning for the throughput rounds (bench/lib/proc.ts): every server on the last CPU, this
 * process (autocannon) on the others. Unpinned, where the scheduler put a server and the load
 * generator showed in the figures: four identical bare servers read 56k-74k req/s in 3 s runs;
 * pinned, 66k-74k.
 */
function start(mode: Mode): Promise<Started> {
  return new Promise((resolve, reject) => {
    const args = ['--import', 'tsx', fileURLToPath(import.meta.url), 'serve', mode]
    const child = spawn(
      PIN === undefined ? process.execPath : 'taskset',
      PIN === undefined ? args : ['-c', PIN.measured, process.execPath, ...args],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    )
    child.stdout?.once('data', (d) => resolve({ port: Number(String(d).trim()), child }))
    child.once('error', reject)
  })
}

interface Load {
  /** Requests per second (autocannon's average). */
  rps: number
  /** The server's CPU time per answered request (µs), from /proc; NaN where there is no /proc. */
  cpuUs: number
}

/** A process's CPU time so far (user + system, ms), or NaN without /proc. */
function cpuMs(pid: number | undefined): number {
  try {
    // fields after the command's closing parenthesis: utime and stime are the 12th and 13th
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return ((Number(f[11]) + Number(f[12])) * 1000) / CLOCK_TICKS
  } catch {
    return Number.NaN
  }
}

/** Kernel clock ticks per second (USER_HZ), for /proc/<pid>/stat. */
const CLOCK_TICKS = Number(spawnSync('getconf', ['CLK_TCK']).stdout?.toString().trim()) || 100

function load(s: Started, seconds: number): Promise<Load> {
  const cpu0 = cpuMs(s.child.pid)
  return new Promise((resolve, reject) => {
    autocannon(
      { url: `http://127.0.0.1:${s.port}/t`, connections: 50, duration: seconds },
      (err: Error | null, res: autocannon.Result) => {
        if (err) return reject(err)
        const answered = res['2xx']
        resolve({ rps: res.requests.average, cpuUs: ((cpuMs(s.child.pid) - cpu0) * 1000) / answered })
      },
    )
  })
}

/** Opens `n` dashboard streams and drains them (what 5 open pages cost the server). */
function pages(port: number, n: number): Array<{ close(): void; bytes(): number }> {
  return Array.from({ length: n }, () => {
    let bytes = 0
    const req = http.get(
      `http://127.0.0.1:${port}/dashboard/stream`,
      { headers: { authorization: `Bearer ${TOKEN}` } },
      (res) => res.on('data', (c: Buffer) => (bytes += c.length)),
    )
    req.on('error', () => {})
    return { close: () => req.destroy(), bytes: () => bytes }
  })
}

async function throughput(): Promise<void> {
  type Kind = 'bare' | 'monitor' | 'dashboard' | 'fm'
  const kinds: readonly Kind[] = ['bare', 'monitor', 'dashboard', 'fm']
  const modes: Record<Kind, Mode> = {
    bare: 'bare',
    monitor: 'monitor',
    dashboard: 'dashboard',
    fm: 'fastify-metrics',
  }
  // A fresh process of each server every round. Identical bare Fastify processes, pinned and
  // measured the same way, settle at one of two levels for as long as they run: most at
  // 10.6-11.7 µs of CPU per request, one in three or so at 14.7-15.4 µs (2026-11-25, scratch;
  // the monitor's processes alike). With one process per server for the whole run, which server
  // drew the slow level decided the ratio; a fresh draw per round and medians over the rounds
  // compare the usual process of each.
  const got = {} as Record<Kind, number[]>
  const cpu = {} as Record<Kind, number[]>
  for (const k of kinds) {
    got[k] = []
    cpu[k] = []
  }
  const received: number[] = []
  if (PIN !== undefined) pinProcess(process.pid, PIN.driver)
  try {
    for (let round = 0; round < ROUNDS; round++) {
      for (let i = 0; i < kinds.length; i++) {
        const k = kinds[(i + round) % kinds.length] as Kind
        const server = await start(modes[k])
        const streams = k === 'dashboard' ? pages(server.port, CLIENTS) : []
        try {
          await load(server, 2)
          const l = await load(server, 3)
          got[k].push(l.rps)
          cpu[k].push(l.cpuUs)
          received.push(...streams.map((x) => x.bytes()))
        } finally {
          for (const x of streams) x.close()
          server.child.kill('SIGTERM')
        }
      }
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number
    const rounds = (xs: number[], digits: number) => xs.map((x) => x.toFixed(digits)).join(' ')
    const bare = median(got.bare)
    const ours = median(got.dashboard)
    const monitorOnly = median(got.monitor)
    const fm = median(got.fm)
    const where =
      PIN === undefined ? 'unpinned' : `servers on CPU ${PIN.measured}, autocannon on ${PIN.driver}`
    report({
      suite: SUITE,
      name: `trivial route, monitor + dashboard on, ${CLIENTS} pages streaming at 1 Hz, vs the bare route`,
      ours,
      peer: bare,
      peerName: 'bare Fastify',
      unit: 'req/s',
      higherIsBetter: true,
      target: '>= 0.97x',
      note: `medians of ${ROUNDS} rounds, a fresh process of each server per round (2 s warm-up, 3 s measured), order rotated, ${where}; per round dashboard/bare ${got.dashboard.map((x, i) => (x / (got.bare[i] as number)).toFixed(2)).join(' ')}`,
    })
    // The req/s rows measure the server and autocannon together (autocannon's one core is as busy
    // as the server's). The server's own CPU per answered request is what its capacity is: the
    // req/s one core sustains is 1 s over it, whatever the load generator does.
    if (!Number.isNaN(median(cpu.bare))) {
      report({
        suite: SUITE,
        name: `trivial route, monitor + dashboard on, ${CLIENTS} pages streaming at 1 Hz, vs the bare route: capacity of one core from the server's CPU per request`,
        ours: 1e6 / median(cpu.dashboard),
        peer: 1e6 / median(cpu.bare),
        peerName: 'bare Fastify',
        unit: 'req/s',
        higherIsBetter: true,
        target: '>= 0.97x',
        note: `server CPU per request (µs, /proc), per round: dashboard ${rounds(cpu.dashboard, 1)}; bare ${rounds(cpu.bare, 1)}; monitor alone ${rounds(cpu.monitor, 1)} (median ${median(cpu.monitor).toFixed(2)}); fastify-metrics median ${median(cpu.fm).toFixed(2)}`,
      })
    }
    report({
      suite: SUITE,
      name: `the dashboard's own cost: monitor + dashboard (${CLIENTS} pages) vs the monitor alone`,
      ours,
      peer: monitorOnly,
      peerName: 'monitor + request metrics, no dashboard',
      unit: 'req/s',
      higherIsBetter: true,
    })
    report({
      suite: SUITE,
      name: 'fastify-metrics 13 on the same route vs the bare route (the peer overhead, for reference)',
      ours: fm,
      peer: bare,
      peerName: 'bare Fastify',
      unit: 'req/s',
      higherIsBetter: true,
    })
    report({
      suite: SUITE,
      name: 'monitor + dashboard (5 pages) vs fastify-metrics, same route',
      ours,
      peer: fm,
      peerName: 'fastify-metrics',
      unit: 'req/s',
      higherIsBetter: true,
      target: '>= 1.0x (costs no more)',
      note: `bytes each page received, per round: ${received.join('/')}`,
    })
  } finally {
    if (PIN !== undefined) pinProcess(process.pid, PIN.all)
  }
}

async function pageWeight(): Promise<void> {
  const { loadPageFiles, livePage } = await import('../src/dashboard/assets.js')
  const files = loadPageFiles()
  const page = livePage(files, '/dashboard')
  let total = page.gzip.length
  const parts = [`html ${page.gzip.length}`]
  for (const [name, a] of files.files) {
    total += a.gzip.length
    parts.push(`${name} ${a.gzip.length}`)
  }
  report({
    suite: SUITE,
    name: 'the whole page gzipped (html, app, css, uPlot), level 9',
    ours: total / 1024,
    peer: undefined,
    peerName: undefined,
    unit: 'KiB',
    higherIsBetter: false,
    target: '<= 80 KB',
    note: parts.join(', '),
  })
  // gzip -6, what a generic compression middleware would send
  let six = 0
  for (const a of [page, ...files.files.values()]) six += gzipSync(a.body, { level: 6 }).length
  report({
    suite: SUITE,
    name: 'the whole page gzipped at level 6',
    ours: six / 1024,
    peer: undefined,
    peerName: undefined,
    unit: 'KiB',
    higherIsBetter: false,
    target: '<= 80 KB',
  })
}

/** What one frame costs to build, in this process (a monitor with 20 busy routes). */
async function tickCost(): Promise<void> {
  const { default: Fastify } = await import('fastify')
  const { createMonitor } = await import('../src/metrics/index.js')
  const { default: hotpath } = await import('../src/fastify/index.js')
  const { createDashboard } = await import('../src/dashboard/index.js')
  const monitor = createMonitor({ env: {} })
  const app = Fastify()
  await app.register(hotpath, { monitor, compression: false })
  for (let i = 0; i < 20; i++) app.get(`/r${i}`, async () => ({ ok: true }))
  await app.ready()
  const d = createDashboard({ monitor, interval: '1h', window: '1h' })
  const hit = async () => {
    for (let i = 0; i < 40; i++) await app.inject({ url: `/r${i % 20}` })
  }
  for (let i = 0; i < 50; i++) {
    await hit()
    await d.tick()
  }
  let ms = 0
  const N = 300
  for (let i = 0; i < N; i++) {
    await hit()
    const t0 = performance.now()
    await d.tick()
    ms += performance.now() - t0
  }
  report({
    suite: SUITE,
    name: 'building and sending one frame (20 routes active), per tick',
    ours: ms / N,
    peer: undefined,
    peerName: undefined,
    unit: 'ms',
    higherIsBetter: false,
    note: `${((ms / N / 1000) * 100).toFixed(3)}% of one core at 1 Hz`,
  })
  await d.close()
  monitor.close()
  await app.close()
}

/** CPU seconds used so far by the descendants of process `root` (Linux /proc). */
function treeCpuSeconds(root: number): number {
  const hz = 100
  const procs = new Map<number, { ppid: number; cpu: number }>()
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8')
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      procs.set(Number(name), {
        ppid: Number(fields[1]),
        cpu: (Number(fields[11]) + Number(fields[12])) / hz,
      })
    } catch {
      // the process ended while we looked
    }
  }
  const inTree = (pid: number): boolean => {
    for (let p = pid, hops = 0; p > 1 && hops < 20; hops++) {
      if (p === root) return true
      p = procs.get(p)?.ppid ?? 0
    }
    return false
  }
  let total = 0
  for (const [pid, p] of procs) if (pid !== root && inTree(pid)) total += p.cpu
  return total
}

/** Synthetic frames that fill every built-in chart: 3 routes, 2 cache tiers, GC, shedding. */
function syntheticTick(seq: number, t: number, bounds: number[]) {
  const wave = Math.sin(seq / 30)
  const route = (n: number) => {
    const b = new Array<number>(bounds.length + 1).fill(0)
    b[0] = Math.round(n * 0.6)
    b[3] = Math.round(n * 0.3)
    b[6] = n - (b[0] as number) - (b[3] as number)
    return { n, status: { '2xx': n - 3, '5xx': 3 }, p50: 0.8, p95: 20 + 5 * wave, p99: 60 + 10 * wave, b }
  }
  const all = route(3000 + Math.round(500 * wave))
  return {
    seq,
    t,
    frames: [
      {
        seq,
        t,
        dt: 1,
        instance: 'bench',
        http: {
          ...all,
          total: seq * 3000,
          inflight: 12,
          routes: { 'GET /a': route(2000), 'GET /b': route(900), 'POST /c': route(100) },
        },
        loop: { maxMs: 12 + 4 * wave, meanMs: 1.2, elu: 0.4 + 0.1 * wave },
        mem: { heapUsed: 80e6 + 1e6 * wave, heapTotal: 120e6, rss: 200e6 },
        gc: { n: 3, ms: 4 },
        cache: {
          'http/l1': { hits: 900, misses: 100 },
          'users/l2': { hits: 60 + Math.round(20 * wave), misses: 40 },
        },
        shed: seq % 10 === 0 ? 5 : 0,
        rateLimited: 2,
        panels: {},
        ext: {},
      },
    ],
  }
}

/** 6 charts x 3,600 points streaming at 1 Hz: the CPU headless Chromium spends on the page. */
async function renderCpu(): Promise<void> {
  if (!existsSync('/usr/bin/chromium')) {
    console.log('  (render CPU skipped: /usr/bin/chromium is not installed; apt-get install chromium)')
    return
  }
  const { loadPageFiles, livePage } = await import('../src/dashboard/assets.js')
  const { DEFAULT_BOUNDS } = await import('../src/dashboard/frame-builder.js')
  const files = loadPageFiles()
  const page = livePage(files, '/dashboard')
  const bounds = DEFAULT_BOUNDS
  const now = Date.now()
  const history = Array.from({ length: 3600 }, (_, i) =>
    syntheticTick(i + 1, now - (3600 - i) * 1000, bounds),
  )
  let seq = 3600
  const timers: NodeJS.Timeout[] = []
  const server = http.createServer((req, res) => {
    const url = req.url ?? ''
    if (url === '/dashboard') {
      res.writeHead(200, { 'content-type': page.type })
      res.end(page.body)
      return
    }
    const asset = files.files.get(url.replace('/dashboard/assets/', ''))
    if (asset !== undefined) {
      res.writeHead(200, { 'content-type': asset.type })
      res.end(asset.body)
      return
    }
    if (url === '/dashboard/stream') {
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      const hello = {
        version: 1,
        instance: 'bench',
        intervalMs: 1000,
        windowMs: 3_600_000,
        bounds,
        panels: [],
      }
      res.write(`event: hello\ndata: ${JSON.stringify(hello)}\n\n`)
      res.write(
        `event: history\ndata: ${JSON.stringify({ ticks: history, alerts: [], recommendations: [] })}\n\n`,
      )
      timers.push(
        setInterval(() => {
          seq++
          res.write(
            `id: ${seq}\nevent: tick\ndata: ${JSON.stringify(syntheticTick(seq, Date.now(), bounds))}\n\n`,
          )
        }, 1000),
      )
      return
    }
    res.writeHead(404).end()
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
  const port = (server.address() as { port: number }).port
  const { chromium } = await import('playwright-core')
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  })
  try {
    const tab = await browser.newPage({ viewport: { width: 1400, height: 1000 } })
    await tab.goto(`http://127.0.0.1:${port}/dashboard`)
    await tab.waitForFunction(
      () =>
        (
          globalThis as unknown as { document: { querySelectorAll(s: string): { length: number } } }
        ).document.querySelectorAll('.chart canvas').length >= 6,
    )
    await new Promise((r) => setTimeout(r, 5000))
    // Chromium's processes are the only children of this one at this point
    const pid = process.pid
    const seconds = 30
    const before = treeCpuSeconds(pid)
    const t0 = performance.now()
    await new Promise((r) => setTimeout(r, seconds * 1000))
    const cpu = treeCpuSeconds(pid) - before
    const wall = (performance.now() - t0) / 1000
    report({
      suite: SUITE,
      name: '6 charts x 3,600 points streaming at 1 Hz: headless Chromium CPU (all its processes), % of one core',
      ours: (cpu / wall) * 100,
      peer: undefined,
      peerName: undefined,
      unit: '%',
      higherIsBetter: false,
      target: '<= 5%',
      note: `${seconds} s window after the first render`,
    })
  } finally {
    for (const t of timers) clearInterval(t)
    await browser.close()
    server.closeAllConnections()
    server.close()
  }
}

if (process.argv[2] === 'serve') await serve((process.argv[3] ?? 'bare') as Mode)

export default {
  name: 'dashboard: overhead on a trivial route, page weight',
  async run(): Promise<void> {
    // DASHBOARD_BENCH_ONLY=weight,tick,render,throughput runs a subset
    const only = process.env.DASHBOARD_BENCH_ONLY?.split(',')
    const want = (part: string) => only === undefined || only.includes(part)
    if (want('weight')) await pageWeight()
    if (want('tick')) await tickCost()
    if (want('render')) await renderCpu()
    if (want('throughput')) await throughput()
  },
}
