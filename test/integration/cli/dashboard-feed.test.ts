/**
 * `hotpath loadtest --dashboard <url>` against the reference server (with METRICS_TOKEN, so its
 * dashboard takes ingest): the figures land in the dashboard's history as the `loadtest` source;
 * a refused or unreachable dashboard never stops the load test (failures counted, reported once).
 */
import assert from 'node:assert/strict'
import { once } from 'node:events'
import net from 'node:net'
import { after, before, describe, it } from 'node:test'
import { buildServer, type Server } from '../../../src/server/app.js'
import { loadConfig } from '../../../src/server/config.js'
import { hotpath, type Run } from './spawn.js'

const TOKEN = 'dashboard-feed-token-0123456789'

/** `hotpath loadtest <args>` with no token in the environment unless `env` gives one. */
function loadtest(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return hotpath(['loadtest', ...args], { env: { HOTPATH_DASHBOARD_TOKEN: '', ...env } })
}

interface State {
  ticks: Array<{ frames: Array<{ ext: Record<string, Record<string, number>> }> }>
}

describe('hotpath loadtest --dashboard', () => {
  let server: Server
  let base: string
  before(async () => {
    server = await buildServer(loadConfig({ BACKEND_LATENCY_MS: '0', METRICS_TOKEN: TOKEN }))
    base = await server.app.listen({ port: 0, host: '127.0.0.1' })
  })
  after(() => server.close())

  async function ingested(source: string): Promise<Array<Record<string, number>>> {
    const res = await fetch(`${base}/dashboard/state`, { headers: { authorization: `Bearer ${TOKEN}` } })
    assert.equal(res.status, 200)
    const state = (await res.json()) as State
    return state.ticks.flatMap((t) =>
      t.frames.flatMap((f) => (f.ext[source] === undefined ? [] : [f.ext[source]])),
    )
  }

  /** A short constant-rate run against the server's liveness route, then `extra`. */
  const load = (rate: number, seconds: number, ...extra: string[]): string[] => [
    `${base}/health/live`,
    ...['-R', String(rate), '-d', `${seconds}s`, '-q', '--scrape', 'off'],
    ...extra,
  ]

  /** The ingested points of `source`, waiting up to 3 s for `atLeast` of them (the dashboard ticks each second). */
  async function waitIngested(source: string, atLeast: number): Promise<Array<Record<string, number>>> {
    let points = await ingested(source)
    for (let i = 0; i < 30 && points.length < atLeast; i++) {
      await new Promise((r) => setTimeout(r, 100))
      points = await ingested(source)
    }
    return points
  }

  it('streams each second of the run into the dashboard history (token from the environment)', async () => {
    const run = await loadtest(load(40, 4, '--dashboard', `${base}/dashboard`), {
      HOTPATH_DASHBOARD_TOKEN: TOKEN,
    })
    assert.equal(run.code, 0, run.stderr)
    assert.doesNotMatch(run.stderr, /dashboard:/, 'no post failed')
    const points = await waitIngested('loadtest', 2)
    assert.ok(points.length >= 2, `at least two seconds ingested; got ${JSON.stringify(points)}`)
    const total = points.reduce((n, p) => n + (p.rps ?? 0), 0)
    assert.ok(total > 40, `the ingested per-second rates add up to the run (${total})`)
    for (const p of points)
      assert.deepEqual(Object.keys(p).sort(), [
        'dropped',
        'errors',
        'inFlight',
        'max',
        'p50',
        'p90',
        'p99',
        'rps',
      ])
  })

  it('--dashboard-source names the series; --dashboard-token wins over the environment', async () => {
    const run = await loadtest(
      load(
        20,
        2,
        '--dashboard',
        `${base}/dashboard/ingest`,
        '--dashboard-source',
        'lt.eu-1',
        '--dashboard-token',
        TOKEN,
      ),
      { HOTPATH_DASHBOARD_TOKEN: 'not-the-token-at-all' },
    )
    assert.equal(run.code, 0, run.stderr)
    assert.ok((await waitIngested('lt.eu-1', 1)).length >= 1)
  })

  it('a refused post (wrong token) does not stop the load test: reported once, counted at the end', async () => {
    const run = await loadtest(load(20, 3, '--dashboard', `${base}/dashboard`), {
      HOTPATH_DASHBOARD_TOKEN: 'wrong-token-wrong-token',
    })
    assert.equal(run.code, 0, run.stderr)
    assert.match(run.stdout, /requests/, 'the report is printed')
    const lines = run.stderr.split('\n').filter((l) => l.startsWith('dashboard:'))
    assert.equal(lines.length, 2, run.stderr)
    assert.match(lines[0] ?? '', /failed \(401: wrong or missing token\); the load test goes on/)
    assert.match(lines[1] ?? '', /dashboard: [2-4] of [2-4] posts to .* failed/)
  })

  it('an unreachable dashboard does not stop the load test either', async () => {
    const closed = net.createServer()
    closed.listen(0, '127.0.0.1')
    await once(closed, 'listening')
    const port = (closed.address() as net.AddressInfo).port
    closed.close()
    const run = await loadtest(load(20, 2, '--dashboard', `http://127.0.0.1:${port}/dashboard`))
    assert.equal(run.code, 0, run.stderr)
    assert.match(run.stderr, /failed \(ECONNREFUSED\)/)
  })

  it('bad --dashboard flags are usage errors before any load', async () => {
    const bad = await loadtest([`${base}/health/live`, '-d', '1s', '--dashboard', 'ftp://x/dashboard'])
    assert.equal(bad.code, 2)
    assert.match(bad.stderr, /--dashboard must be an http\(s\) URL/)
    const source = await loadtest([
      `${base}/health/live`,
      '--dashboard',
      `${base}/dashboard`,
      '--dashboard-source',
      'no spaces',
    ])
    assert.equal(source.code, 2)
    assert.match(source.stderr, /--dashboard-source must be 1-64/)
    const workers = await loadtest([`${base}/health/live`, '--dashboard', `${base}/dashboard`, '-w', '2'])
    assert.equal(workers.code, 2)
    assert.match(workers.stderr, /drop --workers/)
  })
})
