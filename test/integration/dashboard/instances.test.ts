/**
 * Several instances, one view: two server processes sharing a Redis (a channel of their own)
 * publish their frames; each page shows both instances and their aggregate, and the aggregate's
 * request total equals the sum of the instances' own /metrics.
 */
import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { after, before, describe, it } from 'node:test'
import type { DashboardState, Frame } from '../../../src/dashboard/index.js'
import { REDIS_URL, uniquePrefix } from '../../helpers/services.js'
import { type Doc, launch, shots } from './browser.js'
import { TOKEN } from './helpers.js'

const root = new URL('../../..', import.meta.url).pathname
const auth = { authorization: `Bearer ${TOKEN}` }

function startInstance(name: string, channel: string): Promise<{ child: ChildProcess; base: string }> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'test/integration/dashboard/fixtures/instance.ts'],
    {
      cwd: root,
      env: { ...process.env, INSTANCE: name, CHANNEL: channel, REDIS_URL, TOKEN },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  )
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`instance ${name} did not start within 20s`)), 20_000)
    let out = ''
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString()
      const line = out.split('\n')[0] as string
      if (out.includes('\n')) {
        clearTimeout(timer)
        resolve({ child, base: `http://127.0.0.1:${JSON.parse(line).port}` })
      }
    })
    child.once('exit', (code) => reject(new Error(`instance ${name} exited with ${code}`)))
  })
}

async function hammer(url: string, n: number): Promise<void> {
  for (let i = 0; i < n; i++) await fetch(url).then((r) => r.arrayBuffer())
}

/** Requests counted in an instance's own Prometheus text. */
async function promTotal(base: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`, { headers: auth })).text()
  let sum = 0
  for (const line of text.split('\n')) {
    if (line.startsWith('hotpath_http_request_duration_seconds_count')) sum += Number(line.split(' ').pop())
  }
  return sum
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

describe('several instances, one view', () => {
  const channel = `${uniquePrefix('dashboard')}frames`
  let a: { child: ChildProcess; base: string }
  let b: { child: ChildProcess; base: string }

  before(async () => {
    ;[a, b] = await Promise.all([startInstance('alpha', channel), startInstance('beta', channel)])
  })

  after(() => {
    a?.child.kill('SIGTERM')
    b?.child.kill('SIGTERM')
  })

  it('aggregates both instances: the total equals the sum of their /metrics', async (t) => {
    await Promise.all([
      hammer(`${a.base}/work`, 120),
      hammer(`${b.base}/work`, 80),
      hammer(`${b.base}/fail`, 20),
    ])
    // the last requests reach every instance's view within a few frames: wait until the
    // aggregate has settled (unchanged for 1 s), then read both /metrics (a scrape is counted
    // after its own answer, so it does not change what it reports)
    for (const [self, other] of [
      [a, 'beta'],
      [b, 'alpha'],
    ] as const) {
      let agg: Frame | undefined
      let seen = new Set<string>()
      let stableSince = Date.now()
      let last = -1
      const until = Date.now() + 15_000
      while (Date.now() < until) {
        const state = (await (
          await fetch(`${self.base}/dashboard/state`, { headers: auth })
        ).json()) as DashboardState
        agg = state.ticks[state.ticks.length - 1]?.frames.find((f) => f.instance === '*')
        seen = new Set(state.ticks.slice(-20).flatMap((t) => t.frames.map((f) => f.instance)))
        const total = agg?.http.total ?? -1
        if (total !== last) {
          last = total
          stableSince = Date.now()
        } else if (Date.now() - stableSince >= 1000 && seen.has(other)) break
        await sleep(100)
      }
      assert.ok(agg !== undefined, 'the aggregate is in the view')
      assert.ok(seen.has(other), `${other} shows in the view`)
      const [ta, tb] = await Promise.all([promTotal(a.base), promTotal(b.base)])
      assert.ok(ta >= 120 && tb >= 100, `each instance counted its own requests: ${ta}, ${tb}`)
      const diff = Math.abs(agg.http.total - (ta + tb))
      t.diagnostic(
        `view of ${other === 'beta' ? 'alpha' : 'beta'}: aggregate total ${agg.http.total}, /metrics ${ta} + ${tb}`,
      )
      assert.ok(diff <= 0.01 * (ta + tb), `aggregate ${agg.http.total} vs sum of /metrics ${ta + tb}`)
    }
  })

  it('the page offers each instance and the aggregate, and shows the aggregate by default', async () => {
    const browser = await launch(a.base)
    try {
      const { page } = browser
      await page.goto(`${a.base}/dashboard?token=${TOKEN}`)
      const load = Promise.all([hammer(`${a.base}/work`, 150), hammer(`${b.base}/work`, 150)])
      await page.waitForFunction(
        () => {
          const sel = (globalThis as unknown as { document: Doc }).document.getElementById(
            'instance',
          ) as unknown as {
            options: ArrayLike<{ value: string }>
            value: string
          } | null
          if (sel === null) return false
          const values = Array.from(sel.options).map((o) => o.value)
          return (
            values.includes('alpha') && values.includes('beta') && values.includes('*') && sel.value === '*'
          )
        },
        undefined,
        { timeout: 10_000 },
      )
      await load
      await sleep(1200)
      if (shots !== undefined)
        await page.screenshot({ path: `${shots}/dashboard-instances.png`, fullPage: true })
      assert.deepEqual(browser.outside, [])
    } finally {
      await browser.close()
    }
  })
})
