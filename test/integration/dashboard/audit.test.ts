/**
 * Regressions found by an outside audit of the dashboard: what another process on the share
 * channel can do to this one (anyone who can publish on that Redis channel), what a slow page
 * reading a large history costs, how the routes answer odd requests, and what the snapshot
 * export keeps of odd strings.
 */
import assert from 'node:assert/strict'
import type { ServerResponse } from 'node:http'
import { Writable } from 'node:stream'
import { after, describe, it } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { Redis } from 'ioredis'
import { createDashboard, type Dashboard, type Frame } from '../../../src/dashboard/index.js'
import { createMonitor, type Monitor } from '../../../src/metrics/index.js'
import { systemClock } from '../../../src/time.js'
import { REDIS_URL, uniquePrefix } from '../../helpers/services.js'
import { buildApp, openStream, TOKEN } from './helpers.js'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const closers: Array<() => Promise<unknown> | unknown> = []
after(async () => {
  for (const c of closers.reverse()) await c()
})

/**
 * A dashboard sharing on a channel of its own, and a plain Redis client to publish on it as a
 * hostile (or broken) instance would. The interval is long: only the test's own tick() calls run.
 */
async function shared(
  panels: Parameters<typeof createDashboard>[0]['panels'] = [],
): Promise<{ d: Dashboard; monitor: Monitor; publish(m: unknown): Promise<void>; own: Frame }> {
  const channel = `${uniquePrefix('dashboard-audit')}share`
  const monitor = createMonitor({ enabled: false, env: {}, recommendations: { builtIn: false } })
  const d = createDashboard({
    monitor,
    instance: 'me',
    interval: '10s',
    window: '10m',
    panels,
    share: { redis: REDIS_URL, channel },
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
    monitor,
    own,
    async publish(m) {
      await pub.publish(channel, typeof m === 'string' ? m : JSON.stringify(m))
      // a round trip on the same connection: the subscriber has the message once PING answers
      await pub.ping()
      await sleep(20)
    },
  }
}

/** A frame as another instance would publish it (a copy of ours under its name). */
function frameOf(own: Frame, instance: string): Frame {
  return { ...(JSON.parse(JSON.stringify(own)) as Frame), instance }
}

describe('share channel: what another process on the channel can do', () => {
  it('a frame with __proto__ keys does not pollute Object.prototype', async () => {
    const { d, own, publish } = await shared()
    const f = frameOf(own, 'evil')
    // JSON.parse makes "__proto__" an own key; the aggregate used to add into Object.prototype
    const text = JSON.stringify({ type: 'frame', instance: 'evil', data: f })
      .replace('"panels":{}', '"panels":{"__proto__":{"auditPolluted":1}}')
      .replace('"cache":{}', '"cache":{"__proto__":{"hits":7,"misses":0}}')
    assert.match(text, /auditPolluted/)
    const before = new Set(Object.getOwnPropertyNames(Object.prototype))
    await publish(text)
    await d.tick().catch(() => {})
    const added = Object.getOwnPropertyNames(Object.prototype).filter((k) => !before.has(k))
    // undo it before asserting: a polluted prototype breaks the other tests (prom-client's
    // labels among them: 'Added label "misses" is not included in initial labelset')
    for (const k of added) delete (Object.prototype as Record<string, unknown>)[k]
    assert.deepEqual(added, [], 'properties added to Object.prototype')
  })

  it('a malformed frame is ignored: ticks keep coming and the aggregate stays numeric', async () => {
    const { d, own, publish } = await shared()
    const bad: Array<[string, (f: Frame) => unknown]> = [
      ['no routes', (f) => ({ ...f, http: { b: [], n: 1 } })],
      ['gc null', (f) => ({ ...f, gc: null })],
      ['strings for numbers', (f) => ({ ...f, http: { ...f.http, n: 'abc' }, mem: { heapUsed: 'lots' } })],
      ['routes as a string', (f) => ({ ...f, http: { ...f.http, routes: 'x' } })],
      ['constructor route', (f) => ({ ...f, http: { ...f.http, routes: { constructor: f.http } } })],
    ]
    for (const [what, make] of bad) {
      const instance = `bad-${what.replace(/\W/g, '-')}`
      await publish({ type: 'frame', instance, data: make(frameOf(own, instance)) })
      const tick = await d.tick().catch((err: unknown) => err as Error)
      assert.ok(!(tick instanceof Error), `${what}: the tick failed: ${String(tick)}`)
      for (const f of tick?.frames ?? []) {
        assert.equal(typeof f.http.n, 'number', `${what}: http.n of ${f.instance}`)
        assert.ok(Number.isFinite(f.mem.heapUsed), `${what}: mem.heapUsed of ${f.instance}`)
        assert.ok(Number.isFinite(f.mem.rss), `${what}: mem.rss of ${f.instance}`)
      }
    }
    // and a good frame still gets in
    await publish({ type: 'frame', instance: 'good', data: frameOf(own, 'good') })
    const tick = await d.tick()
    assert.ok(tick?.frames.some((f) => f.instance === 'good'))
    assert.ok(tick?.frames.some((f) => f.instance === '*'))
  })

  it('recommendations and alerts are checked: nobody else writes ours, garbage is not kept', async () => {
    const { d, own, publish } = await shared()
    await publish({ type: 'frame', instance: 'other', data: frameOf(own, 'other') })
    await d.tick()
    // "other" publishes recommendations claiming to be "me", then ones the page cannot draw
    await publish({
      type: 'recs',
      instance: 'other',
      data: {
        instance: 'me',
        at: 1,
        items: [{ id: 'x', severity: 'critical', message: 'spoof', evidence: {} }],
      },
    })
    await publish({ type: 'recs', instance: 'other', data: { instance: 'other', at: 1, items: 'nope' } })
    await publish({ type: 'alert', instance: 'other', data: { name: { a: 1 }, state: 'firing' } })
    await publish({
      type: 'alert',
      instance: 'other',
      data: { name: 'x', state: 'firing', instance: 'me', at: 1 },
    })
    const s = d.state()
    assert.deepEqual(
      s.recommendations.filter((r) => r.instance === 'me').flatMap((r) => r.items.map((i) => i.message)),
      [],
      'recommendations of "me" come only from "me"',
    )
    for (const r of s.recommendations) assert.ok(Array.isArray(r.items), `items of ${r.instance}`)
    for (const a of s.alerts) {
      assert.equal(typeof a.name, 'string')
      assert.notEqual(a.instance, 'me', 'an alert of "me" comes only from "me"')
    }
    // a well-formed one is kept
    await publish({
      type: 'recs',
      instance: 'other',
      data: {
        instance: 'other',
        at: 2,
        items: [{ id: 'r', severity: 'info', message: 'ok', evidence: { n: 1 } }],
      },
    })
    await publish({
      type: 'alert',
      instance: 'other',
      data: { name: 'slow', state: 'firing', severity: 'warning', value: 3, at: 2, instance: 'other' },
    })
    const s2 = d.state()
    assert.deepEqual(
      s2.recommendations.find((r) => r.instance === 'other')?.items.map((i) => i.message),
      ['ok'],
    )
    assert.deepEqual(
      s2.alerts.map((a) => a.name),
      ['slow'],
    )
  })

  it('thousands of fake instances and huge ids: what is kept stays bounded', async () => {
    const { d, own, publish } = await shared()
    const pipe: Promise<void>[] = []
    for (let i = 0; i < 1000; i++) {
      const instance = `fake-${i}`
      pipe.push(publish({ type: 'recs', instance, data: { instance, at: 1, items: [] } }))
    }
    await Promise.all(pipe)
    const huge = 'x'.repeat(100_000)
    await publish({ type: 'frame', instance: huge, data: frameOf(own, huge) })
    await publish({ type: 'recs', instance: huge, data: { instance: huge, at: 1, items: [] } })
    const tick = await d.tick()
    const s = d.state()
    assert.ok(s.recommendations.length <= 65, `recommendations of ${s.recommendations.length} instances kept`)
    for (const f of tick?.frames ?? [])
      assert.ok(f.instance.length <= 100, 'an instance id of 100,000 characters')
    for (const r of s.recommendations) assert.ok(r.instance.length <= 100)
  })
})

describe('share channel: an instance that stops publishing', () => {
  it('leaves with its recommendations and table rows, on the pages too', async () => {
    const channel = `${uniquePrefix('dashboard-audit')}share`
    const monitor = createMonitor({ enabled: false, env: {}, recommendations: { builtIn: false } })
    let now = Date.now()
    const clock = { ...systemClock, now: () => now }
    const d = createDashboard({
      monitor,
      instance: 'me',
      interval: '10s',
      window: '10m',
      share: { redis: REDIS_URL, channel, staleAfter: '30s' },
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
    const publish = async (m: unknown) => {
      await pub.publish(channel, JSON.stringify(m))
      await pub.ping()
      await sleep(20)
    }
    const own = (await d.tick())?.frames[0] as Frame
    await publish({ type: 'frame', instance: 'gone', data: frameOf(own, 'gone') })
    await publish({
      type: 'recs',
      instance: 'gone',
      data: {
        instance: 'gone',
        at: now,
        items: [{ id: 'r', severity: 'warning', message: 'old', evidence: {} }],
      },
    })
    await publish({
      type: 'table',
      instance: 'gone',
      data: { id: 't', instance: 'gone', at: now, rows: [{ a: 1 }] },
    })
    await d.tick()
    assert.ok(d.state().recommendations.some((r) => r.instance === 'gone'))
    assert.ok(d.state().tables.some((t) => t.instance === 'gone'))
    // a page streaming now
    let written = ''
    const res = new Writable({
      write(chunk, _enc, cb) {
        written += String(chunk)
        cb()
      },
    }) as unknown as ServerResponse
    Object.assign(res, { writeHead: () => res })
    assert.ok(d.stream(res))
    now += 31_000
    const tick = await d.tick()
    assert.ok(!tick?.frames.some((f) => f.instance === 'gone'), 'its frames left the view')
    const s = d.state()
    assert.deepEqual(
      s.recommendations.filter((r) => r.instance === 'gone'),
      [],
      'its recommendations left the state (and the snapshot)',
    )
    assert.deepEqual(
      s.tables.filter((t) => t.instance === 'gone'),
      [],
      'its table rows left the state',
    )
    // the page is told: empty recommendations and rows for it
    assert.match(written, /event: recs\ndata: \{"instance":"gone","at":\d+,"items":\[\]\}/)
    assert.match(written, /event: table\ndata: \{"id":"t","instance":"gone","at":\d+,"rows":\[\]\}/)
    d.endStreams()
  })
})

describe('stream: slow pages', () => {
  it('a page still reading a history over 4 MiB is not dropped; one 4 MiB behind after it is', async () => {
    const monitor = createMonitor({ enabled: false, env: {}, recommendations: { builtIn: false } })
    // big frames: 4 panels of 64 series with long names, about 55 KB a tick
    const series: Record<string, number> = {}
    for (let i = 0; i < 64; i++) series[`${'s'.repeat(200)}-${i}`] = i
    const d = createDashboard({
      monitor,
      interval: '10s',
      window: '1000s',
      panels: [0, 1, 2, 3].map((i) => ({ id: `big${i}`, title: 'big', sample: () => series })),
    })
    closers.push(async () => {
      await d.close()
      monitor.close()
    })
    for (let i = 0; i < 100; i++) await d.tick()
    const history = JSON.stringify(d.state()).length
    assert.ok(history > 5 * 1024 * 1024, `the history is ${history} bytes`)
    // a page on a slow link: nothing it was sent is taken off the socket's buffer until released
    const held: Array<() => void> = []
    let slow = true
    const res = new Writable({
      write(_chunk, _enc, cb) {
        if (slow) held.push(cb)
        else cb()
      },
    }) as unknown as ServerResponse & Writable
    Object.assign(res, { writeHead: () => res })
    assert.ok(d.stream(res))
    await d.tick()
    await sleep(10)
    assert.equal(res.destroyed, false, 'dropped while it was still reading its history')
    assert.equal(d.clients, 1)
    // it reads everything: then it keeps up
    slow = false
    for (const cb of held.splice(0)) cb()
    await d.tick()
    assert.equal(res.destroyed, false)
    // and one that falls 4 MiB behind the live ticks is still dropped
    slow = true
    let ticks = 0
    while (!res.destroyed && ticks < 200) {
      await d.tick()
      ticks++
      await sleep(1)
    }
    assert.equal(res.destroyed, true, 'a page 4 MiB behind the live ticks is dropped')
    assert.ok(ticks * 55_000 < 6 * 1024 * 1024, `dropped after ${ticks} ticks`)
    for (const cb of held.splice(0)) cb()
  })
})

describe('aggregate', () => {
  it('panel series named like Object.prototype members add up as numbers', async () => {
    const { d, own, publish } = await shared([
      { id: 'odd', title: 'Odd names', sample: () => ({ constructor: 1, toString: 2, valueOf: 3 }) },
    ])
    await d.tick()
    await publish({ type: 'frame', instance: 'other', data: frameOf(own, 'other') })
    const tick = await d.tick()
    const all = tick?.frames.find((f) => f.instance === '*')
    assert.ok(all !== undefined)
    const series = all.panels.odd as Record<string, unknown>
    // ours (1, 2, 3) plus other's copy of our first frame (the same series)
    assert.deepEqual({ ...series }, { constructor: 2, toString: 4, valueOf: 6 })
  })
})

describe('routes', () => {
  const auth = { authorization: `Bearer ${TOKEN}` }
  const apps: FastifyInstance[] = []
  after(async () => {
    for (const a of apps) await a.close()
  })

  it('the snapshot keeps strings with U+2028 or %BASE% in them as they were', async () => {
    const odd = 'line\u2028sep\u2029%BASE%-end'
    const { app, dashboard } = await buildApp({
      dashboard: { panels: [{ id: 'odd', title: odd, sample: () => ({ [odd]: 1 }) }] },
    })
    apps.push(app)
    await dashboard.tick()
    const html = (await app.inject({ url: '/dashboard/snapshot', headers: auth })).body
    const at = html.indexOf('window.HOTPATH_SNAPSHOT=')
    const state = JSON.parse(html.slice(at + 24, html.indexOf('</script>', at))) as {
      hello: { panels: Array<{ title: string }> }
      ticks: Array<{ frames: Frame[] }>
    }
    assert.equal(state.hello.panels[0]?.title, odd)
    assert.deepEqual(Object.keys(state.ticks.at(-1)?.frames[0]?.panels.odd ?? {}), [odd])
  })

  it('HEAD /stream answers its headers and ends (it used to hang, holding a stream slot)', async () => {
    const { app, dashboard } = await buildApp({ dashboard: { maxClients: 1 } })
    apps.push(app)
    await app.listen({ port: 0, host: '127.0.0.1' })
    const { port } = app.server.address() as { port: number }
    const ac = new AbortController()
    const timer = setTimeout(() => ac.abort(), 2000)
    const r = await fetch(`http://127.0.0.1:${port}/dashboard/stream`, {
      method: 'HEAD',
      headers: auth,
      signal: ac.signal,
    }).catch((err: unknown) => err as Error)
    clearTimeout(timer)
    assert.ok(!(r instanceof Error), `HEAD /dashboard/stream: ${String(r)}`)
    assert.equal(r.status, 200)
    assert.match(r.headers.get('content-type') ?? '', /^text\/event-stream/)
    await sleep(50)
    assert.equal(dashboard.clients, 0, 'a HEAD holds no stream slot')
  })

  it('every answer of the page, its assets, state and snapshot says nosniff, refusals too (none did)', async () => {
    const { app, dashboard } = await buildApp()
    apps.push(app)
    await dashboard.tick()
    const asset = (await app.inject({ url: '/dashboard', headers: auth })).body.match(
      /assets\/([\w.-]+\.js)/,
    )?.[1]
    assert.ok(asset !== undefined, 'the page links its script')
    for (const url of [
      '/dashboard',
      `/dashboard/assets/${asset}`,
      '/dashboard/state',
      '/dashboard/snapshot',
    ]) {
      for (const headers of [auth, {}]) {
        const r = await app.inject({ url, headers })
        assert.equal(r.statusCode, headers === auth ? 200 : 401, url)
        assert.equal(r.headers['x-content-type-options'], 'nosniff', `${url} ${r.statusCode}`)
      }
    }
  })

  it('a page reconnecting after a restart (Last-Event-ID beyond every tick held) gets the whole history (it got none)', async () => {
    const { app, dashboard } = await buildApp({ dashboard: { interval: '10s', window: '10m' } })
    apps.push(app)
    for (let i = 0; i < 3; i++) await dashboard.tick()
    await app.listen({ port: 0, host: '127.0.0.1' })
    const { port } = app.server.address() as { port: number }
    const url = `http://127.0.0.1:${port}/dashboard/stream`
    const history = async (lastId: string) => {
      const s = await openStream(url, { ...auth, 'last-event-id': lastId })
      await s.next('hello')
      const h = JSON.parse((await s.next('history')).data) as { ticks: Array<{ seq: number }> }
      s.close()
      return h.ticks.map((t) => t.seq)
    }
    const all = await history('0')
    assert.equal(all.length, 3)
    // the old process had sent far more ticks than this one holds
    assert.deepEqual(await history('5000'), all)
    // an id this process sent still replays only what came after it
    assert.deepEqual(await history(String(all[0])), all.slice(1))
  })
})
