/**
 * Regressions found by a second outside audit of the dashboard: streams of pages that went away
 * before their stream opened, what instances that left (or never joined) the shared view leave
 * behind, and options that were taken without a word.
 */
import assert from 'node:assert/strict'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, describe, it } from 'node:test'
import Fastify, { type FastifyInstance } from 'fastify'
import { Redis } from 'ioredis'
import { createDashboard, type Dashboard, dashboardPlugin, type Frame } from '../../../src/dashboard/index.js'
import { createMonitor } from '../../../src/metrics/index.js'
import { type Duration, systemClock } from '../../../src/time.js'
import { REDIS_URL, uniquePrefix } from '../../helpers/services.js'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const closers: Array<() => Promise<unknown> | unknown> = []
after(async () => {
  for (const c of closers.reverse()) await c()
})

describe('stream slots', () => {
  it('regression: a page that went away while protect() was deciding kept its stream slot forever (503 for everyone after maxClients of them)', async () => {
    const monitor = createMonitor({ enabled: false, env: {}, recommendations: { builtIn: false } })
    const dashboard = createDashboard({ monitor, interval: '100ms', window: '10s', maxClients: 2 })
    const app: FastifyInstance = Fastify()
    // a protect that takes a while (a session store, say)
    await app.register(dashboardPlugin, {
      dashboard,
      protect: async () => {
        await sleep(150)
        return true
      },
    })
    await app.listen({ port: 0, host: '127.0.0.1' })
    closers.push(async () => {
      await app.close()
      monitor.close()
    })
    const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}/dashboard/stream`
    for (let i = 0; i < 2; i++) {
      const req = http.get(url)
      req.on('error', () => {})
      setTimeout(() => req.destroy(), 30)
    }
    await sleep(500)
    assert.equal(dashboard.clients, 0, 'streams held for pages that are gone')
    const status = await new Promise<number>((resolve, reject) => {
      const req = http.get(url, (res) => {
        resolve(res.statusCode ?? 0)
        req.destroy()
      })
      req.on('error', reject)
    })
    assert.equal(status, 200, 'a page opening now gets its stream')
  })
})

/**
 * A dashboard "me" sharing on a channel of its own with a clock the test moves, and a plain Redis
 * client publishing on that channel as another instance would. Only the test's tick() calls run.
 */
async function shared(staleAfter: Duration = '30s') {
  const channel = `${uniquePrefix('dashboard-outside-audit')}share`
  const monitor = createMonitor({ enabled: false, env: {}, recommendations: { builtIn: false } })
  const clock = { ...systemClock, now: () => shared.now }
  const d: Dashboard = createDashboard({
    monitor,
    instance: 'me',
    interval: '10s',
    window: '10m',
    share: { redis: REDIS_URL, channel, staleAfter },
    clock,
  })
  await d.ready()
  const pub = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 })
  pub.on('error', () => {})
  closers.push(async () => {
    await d.close()
    monitor.close()
    pub.disconnect()
  })
  const own = (await d.tick())?.frames[0] as Frame
  return {
    d,
    frameOf: (instance: string): Frame => ({ ...(JSON.parse(JSON.stringify(own)) as Frame), instance }),
    async publish(...messages: unknown[]) {
      for (const m of messages) await pub.publish(channel, JSON.stringify(m))
      // the subscriber has them once a PING on the same connection answers
      await pub.ping()
      await sleep(30)
    },
  }
}
shared.now = Date.now()

/** Alerts firing in a state, as the page works them out from the alert log. */
function firing(alerts: Array<{ name: string; instance: string; state: string }>): string[] {
  const on = new Map<string, string>()
  for (const a of alerts) {
    const key = `${a.instance}/${a.name}`
    if (a.state === 'firing') on.set(key, key)
    else on.delete(key)
  }
  return [...on.keys()]
}

describe('instances that leave the shared view', () => {
  it('regression: an instance that left the view kept its firing alerts on the pages and in snapshots forever', async () => {
    const { d, frameOf, publish } = await shared()
    await publish(
      { type: 'frame', instance: 'gone', data: frameOf('gone') },
      {
        type: 'alert',
        instance: 'gone',
        data: {
          name: 'slow',
          state: 'firing',
          severity: 'critical',
          value: 3,
          at: shared.now,
          instance: 'gone',
        },
      },
    )
    await d.tick()
    assert.deepEqual(firing(d.state().alerts), ['gone/slow'])
    shared.now += 31_000
    const tick = await d.tick()
    assert.ok(!tick?.frames.some((f) => f.instance === 'gone'), 'its frames left the view')
    assert.deepEqual(firing(d.state().alerts), [], 'alerts still firing for an instance that left')
  })
})

describe('instances that never join the shared view', () => {
  it('regression: alerts and table rows of instances that never sent a frame stayed forever, and 256 such tables kept our own tables off the page', async () => {
    const { d, publish } = await shared()
    const ghosts: unknown[] = []
    for (let i = 0; i < 256; i++) {
      const instance = `ghost-${i}`
      ghosts.push({ type: 'table', instance, data: { id: 't', instance, at: shared.now, rows: [{ a: i }] } })
    }
    ghosts.push({
      type: 'alert',
      instance: 'ghost-0',
      data: {
        name: 'boo',
        state: 'firing',
        severity: 'critical',
        value: 1,
        at: shared.now,
        instance: 'ghost-0',
      },
    })
    await publish(...ghosts)
    d.addTable({ id: 'mine', title: 'Mine', columns: ['x'], rows: () => [{ x: 1 }] })
    shared.now += 10_000
    await d.tick()
    assert.ok(
      d.state().tables.some((t) => t.instance === 'me' && t.id === 'mine'),
      'our own table was refused: the tables of other instances filled the bound',
    )
    shared.now += 31_000
    await d.tick()
    const s = d.state()
    assert.deepEqual(
      s.tables.filter((t) => t.instance !== 'me').map((t) => t.instance),
      [],
      'rows of instances never in the view',
    )
    assert.deepEqual(firing(s.alerts), [], 'alerts of instances never in the view')
    assert.ok(s.tables.some((t) => t.instance === 'me' && t.id === 'mine'))
  })

  it('a new instance whose table rows come before its first frame keeps them', async () => {
    const { d, frameOf, publish } = await shared()
    await publish({
      type: 'table',
      instance: 'new',
      data: { id: 't', instance: 'new', at: shared.now, rows: [{ a: 1 }] },
    })
    shared.now += 10_000
    await d.tick()
    await publish({ type: 'frame', instance: 'new', data: frameOf('new') })
    for (let i = 0; i < 5; i++) {
      shared.now += 10_000
      await d.tick()
      await publish({ type: 'frame', instance: 'new', data: frameOf('new') })
    }
    assert.deepEqual(
      d
        .state()
        .tables.filter((t) => t.instance === 'new')
        .map((t) => t.rows),
      [[{ a: 1 }]],
    )
  })
})
