/**
 * The dashboard in a real browser: Debian's headless Chromium driven by playwright-core. The page
 * loads with nothing from outside loopback, its charts move under load, a changed figure and a
 * firing alert show up. How fast they show is measured and printed (diagnostics), never asserted:
 * the figures go to docs/dashboard.md. DASHBOARD_SCREENSHOTS=<dir> saves screenshots there.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { createMonitor } from '../../../src/metrics/index.js'
import { type Doc, launch, shots } from './browser.js'
import { buildApp, TOKEN } from './helpers.js'

// Functions handed to the page are sent as source, so each one is self-contained; `globalThis` is
// cast because this tsconfig has no DOM types. No string eval: the page's CSP forbids it.
/** In the page: whether the last values chart `id` drew satisfy `want` (series name -> value, or '>0'). */
const drew = ([id, series, want]: [string, string, number | '>0']): boolean => {
  const el = (globalThis as unknown as { document: Doc }).document.getElementById(`chart-${id}`)
  if (el?.dataset.last === undefined) return false
  const v = (JSON.parse(el.dataset.last) as Record<string, number | null>)[series]
  return want === '>0' ? typeof v === 'number' && v > 0 : v === want
}

const p95 = (xs: number[]) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil(0.95 * xs.length) - 1)] ?? 0

describe('the page in headless Chromium', () => {
  let app: FastifyInstance
  let base = ''
  let probe = 0
  let alarm = 0
  let monitor: ReturnType<typeof createMonitor>
  let browser: Awaited<ReturnType<typeof launch>>
  const errors: string[] = []

  before(async () => {
    monitor = createMonitor({
      env: {},
      collectInterval: '2s',
      recommendations: {
        rules: [
          () => ({
            id: 'demo',
            severity: 'warning',
            message: 'raise maxEntries',
            evidence: { hitRatio: '41%' },
          }),
        ],
      },
      alerts: [
        {
          name: 'probe-high',
          value: () => alarm,
          op: '>',
          threshold: 0.5,
          severity: 'critical',
          cooldown: 0,
        },
      ],
    })
    const r = await buildApp({
      monitor,
      dashboard: {
        interval: '1s',
        window: '5m',
        recommendationsInterval: '1s',
        panels: [{ id: 'probe', title: 'Probe', sample: () => ({ value: probe }) }],
        tables: [
          {
            id: 'slow',
            title: 'Slow queries',
            columns: ['sql', 'ms'],
            rows: () => [{ sql: 'select * from orders where customer_id = $1', ms: 412.5 }],
          },
        ],
      },
    })
    app = r.app
    await app.listen({ port: 0, host: '127.0.0.1' })
    base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
    browser = await launch(base)
    browser.page.on('pageerror', (e) => errors.push(String(e)))
  })

  after(async () => {
    await browser?.close()
    await app?.close()
  })

  it('loads with nothing from beyond loopback, goes live and strips the token from the address', async () => {
    const { page, outside } = browser
    await page.goto(`${base}/dashboard?token=${TOKEN}`)
    await page.waitForFunction(
      () =>
        (globalThis as unknown as { document: Doc }).document.getElementById('status')?.textContent ===
        'live',
    )
    assert.equal(new URL(page.url()).search, '', 'the token is not left in the address bar')
    assert.deepEqual(outside, [])
    assert.deepEqual(errors, [])
    assert.ok((await page.locator('.chart').count()) >= 6)
  })

  it('moves its charts under load', async () => {
    const { page } = browser
    const points = () =>
      page.evaluate(() =>
        Number(
          (globalThis as unknown as { document: Doc }).document.getElementById('chart-throughput')?.dataset
            .points ?? 0,
        ),
      )
    const before = await points()
    const until = Date.now() + 3000
    const load = async () => {
      while (Date.now() < until) await fetch(`${base}/hello`).then((r) => r.arrayBuffer())
    }
    // watched while the load runs: once it stops, the next frame rightly reads 0
    await Promise.all([
      load(),
      load(),
      load(),
      load(),
      page.waitForFunction(drew, ['throughput', 'total', '>0'] as [string, string, '>0'], {
        timeout: 10_000,
      }),
    ])
    assert.ok((await points()) > before, 'new points were drawn')
    assert.match((await page.locator('#routes tbody').textContent()) ?? '', /GET \/hello/)
    assert.notEqual(await page.locator('#kpi-rps').textContent(), '–')
    await page.locator('#table-slow td', { hasText: 'select * from orders' }).waitFor({ timeout: 10_000 })
    assert.match((await page.locator('#table-slow').textContent()) ?? '', /select \* from orders.*412\.5/)
    if (shots !== undefined) await page.screenshot({ path: join(shots, 'dashboard.png'), fullPage: true })
  })

  it('shows a changed figure at the next frame (latency printed as a diagnostic)', async (t) => {
    const { page } = browser
    const delays: number[] = []
    for (let k = 1; k <= 6; k++) {
      probe = k * 10
      const started = Date.now()
      await page.waitForFunction(drew, ['panel-probe', 'value', probe] as [string, string, number], {
        timeout: 10_000,
      })
      delays.push(Date.now() - started)
    }
    t.diagnostic(`figure change to page: p95 ${p95(delays)} ms, all ${delays.join(', ')} ms (interval 1s)`)
  })

  it('shows an alert when it fires and drops it when it resolves; shows recommendations with evidence', async (t) => {
    const { page } = browser
    alarm = 1
    const started = Date.now()
    await page.waitForSelector('#alerts-firing li.firing[data-alert="probe-high"]', { timeout: 10_000 })
    const shown = Date.now()
    // with no `for`, the rule went pending and firing in the same evaluation: `since` is its time
    const firedAt = monitor.alerts().find((a: { name: string }) => a.name === 'probe-high')?.since ?? 0
    assert.ok(firedAt >= started, 'the rule fired after the condition was set')
    t.diagnostic(
      `alert: rule fired to page ${shown - firedAt} ms; condition to page ${shown - started} ms (evaluation interval 2s)`,
    )
    assert.equal(await page.locator('#kpi-alerts').textContent(), '1')
    assert.match((await page.locator('#recs').textContent()) ?? '', /raise maxEntries.*hitRatio: 41%/)
    if (shots !== undefined)
      await page.screenshot({ path: join(shots, 'dashboard-alert.png'), fullPage: true })
    alarm = 0
    await page.waitForSelector('#alerts-firing li.firing[data-alert="probe-high"]', {
      state: 'detached',
      timeout: 10_000,
    })
    assert.match((await page.locator('#alerts-log').textContent()) ?? '', /probe-high resolved/)
    assert.deepEqual(errors, [])
    assert.deepEqual(browser.outside, [])
  })

  it('draws load-test figures posted to the ingest endpoint on the same time axis', async () => {
    const { page } = browser
    const post = () =>
      fetch(`${base}/dashboard/ingest`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ source: 'loadtest', figures: { rps: 1234, p99: 56 } }),
      })
    assert.equal((await post()).status, 202)
    await page.waitForFunction(drew, ['ext', 'loadtest rps', 1234] as [string, string, number], {
      timeout: 10_000,
    })
    assert.equal(await page.locator('#chart-ext').isVisible(), true)
  })

  it('exports a snapshot that renders from a file with no network at all', async () => {
    for (let i = 0; i < 20; i++) await fetch(`${base}/hello`).then((r) => r.arrayBuffer())
    await new Promise((r) => setTimeout(r, 1500))
    const html = await (
      await fetch(`${base}/dashboard/snapshot`, { headers: { authorization: `Bearer ${TOKEN}` } })
    ).text()
    const dir = mkdtempSync(join(tmpdir(), 'hotpath-snapshot-'))
    const file = join(dir, 'snapshot.html')
    writeFileSync(file, html)
    const offline = await launch('file://')
    try {
      const pageErrors: string[] = []
      offline.page.on('pageerror', (e) => pageErrors.push(String(e)))
      await offline.page.goto(`file://${file}`)
      await offline.page.waitForFunction(
        () =>
          Number(
            (globalThis as unknown as { document: Doc }).document.getElementById('chart-throughput')?.dataset
              .points ?? 0,
          ) > 5,
        undefined,
        { timeout: 10_000 },
      )
      assert.match((await offline.page.locator('#status').textContent()) ?? '', /^snapshot of /)
      assert.match((await offline.page.locator('#routes tbody').textContent()) ?? '', /GET \/hello/)
      assert.deepEqual(offline.outside, [])
      assert.deepEqual(pageErrors, [])
      if (shots !== undefined) await offline.page.screenshot({ path: join(shots, 'dashboard-snapshot.png') })
    } finally {
      await offline.close()
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
