import assert from 'node:assert/strict'
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { Redis } from 'ioredis'
import { createCache } from '../../../src/cache/index.js'
import { createMonitor, instrumentRedis } from '../../../src/metrics/index.js'
import { circuitBreaker, createRateLimiter } from '../../../src/resilience/index.js'
import { freePort, REDIS_URL } from '../../helpers/services.js'

function need(binary: string): void {
  if (spawnSync('sh', ['-c', `command -v ${binary}`]).status !== 0) {
    throw new Error(
      `${binary} is not installed: apt-get install prometheus (Debian) provides prometheus and promtool`,
    )
  }
}

function serve(handler: http.RequestListener): Promise<{ server: http.Server; port: number }> {
  return new Promise((resolve) => {
    const server = http.createServer(handler)
    server.listen(0, '127.0.0.1', () => resolve({ server, port: (server.address() as AddressInfo).port }))
  })
}

describe('Prometheus', () => {
  const monitor = createMonitor({ collectInterval: '500ms', env: {}, onWarning: () => {} })
  const cache = createCache({ monitor, name: 'catalog' })
  let app: { server: http.Server; port: number }
  let prom: ChildProcess | undefined
  let dir = ''
  const redis = new Redis(REDIS_URL, { enableAutoPipelining: true })

  before(async () => {
    need('promtool')
    need('prometheus')
    circuitBreaker({ monitor, name: 'payments' })
    createRateLimiter({ monitor, limit: 10, window: '1s', name: 'api' }).consumeSync('k')
    await cache.getOrSet('a', () => 1)
    for (let i = 0; i < 5; i++) await cache.get('a')
    monitor.measure('db.query', () => 1)
    instrumentRedis(redis, { monitor, name: 'shared' })
    await Promise.all([redis.get('hp:prom:none'), redis.get('hp:prom:none2')])
    monitor.collect()
    app = await serve(async (_req, res) => {
      res.setHeader('content-type', monitor.contentType)
      res.end(await monitor.metrics())
    })
  })

  after(async () => {
    prom?.kill('SIGKILL')
    app?.server.close()
    monitor.close()
    await cache.close()
    redis.disconnect()
    if (dir) rmSync(dir, { recursive: true, force: true })
  })

  it('promtool check metrics accepts the exposition', async () => {
    const text = await monitor.metrics()
    const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' })
    assert.equal(r.status, 0, `promtool: ${r.stdout}${r.stderr}`)
    assert.equal(`${r.stdout}${r.stderr}`.trim(), '', 'no lint findings')
    assert.match(text, /^hotpath_redis_commands_total\{client="shared",command="get"\} 2$/m)
    assert.match(text, /^process_resident_memory_bytes \d+$/m)
  })

  it('a real Prometheus scrapes it and a query returns the values', async () => {
    dir = mkdtempSync(join(tmpdir(), 'hp-prom-'))
    const port = await freePort()
    writeFileSync(
      join(dir, 'prometheus.yml'),
      `global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: hotpath\n    static_configs:\n      - targets: ['127.0.0.1:${app.port}']\n`,
    )
    execFileSync('promtool', ['check', 'config', join(dir, 'prometheus.yml')], { stdio: 'ignore' })
    prom = spawn(
      'prometheus',
      [
        `--config.file=${join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
      ],
      { stdio: 'ignore' },
    )
    const query = async (q: string) => {
      const res = await fetch(`http://127.0.0.1:${port}/api/v1/query?query=${encodeURIComponent(q)}`)
      return (await res.json()) as {
        data?: { result?: Array<{ metric: Record<string, string>; value: [number, string] }> }
      }
    }
    const deadline = Date.now() + 30_000
    let hits: number | undefined
    while (Date.now() < deadline) {
      try {
        const r = await query('hotpath_cache_requests_total{cache="catalog",tier="l1",result="hit"}')
        const v = r.data?.result?.[0]?.value?.[1]
        if (v !== undefined) {
          hits = Number(v)
          break
        }
      } catch {
        // not up yet
      }
      await new Promise((r) => setTimeout(r, 250))
    }
    assert.equal(hits, 5)
    const up = await query('up{job="hotpath"}')
    assert.equal(up.data?.result?.[0]?.value?.[1], '1')
    const ops = await query('hotpath_operation_duration_seconds_count{operation="db.query"}')
    assert.equal(ops.data?.result?.[0]?.value?.[1], '1')
  })
})

describe('alert webhooks', () => {
  it('POSTs the alert as JSON, retrying a failing receiver', async () => {
    const bodies: unknown[] = []
    let calls = 0
    const receiver = await serve((req, res) => {
      calls++
      let body = ''
      req.on('data', (d) => {
        body += d
      })
      req.on('end', () => {
        if (calls === 1) {
          res.statusCode = 503
          res.end()
          return
        }
        bodies.push(JSON.parse(body))
        res.end('ok')
      })
    })
    const m = createMonitor({
      enabled: false,
      runtime: false,
      env: {},
      alerts: [
        {
          name: 'always',
          value: () => 1,
          op: '>',
          threshold: 0,
          webhook: `http://127.0.0.1:${receiver.port}/hook`,
        },
      ],
    })
    m.evaluateAlerts()
    const deadline = Date.now() + 5000
    while (bodies.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
    receiver.server.close()
    assert.equal(calls, 2)
    assert.equal((bodies[0] as { name: string; state: string }).name, 'always')
    assert.equal((bodies[0] as { state: string }).state, 'firing')
  })
})
