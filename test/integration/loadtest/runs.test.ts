/**
 * The load tester against loopback servers: counts that match what the server saw, scenario
 * steps with captures and checks, stops (signal, threshold), and coordinated-omission
 * correction against a server in its own process that freezes its event loop once.
 */
import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, test } from 'node:test'
import { runLoadTest, runLoadTestInWorkers } from '../../../src/loadtest/index.js'

let server: http.Server
let base: string
let seen = 0
const tokens = new Set<string>()
let mode: 'ok' | 'fail' = 'ok'

before(async () => {
  let n = 0
  server = http.createServer((req, res) => {
    if (req.method === 'HEAD' || req.url === '/metrics') {
      res.end()
      return
    }
    seen++
    if (mode === 'fail') {
      res.statusCode = 500
      res.end('broken')
      return
    }
    if (req.url === '/login') {
      const token = `t${++n}`
      tokens.add(token)
      res.setHeader('content-type', 'application/json')
      res.end(JSON.stringify({ session: { token } }))
      return
    }
    if (req.url?.startsWith('/items/')) {
      const ok = tokens.has(String(req.headers.authorization).replace('Bearer ', ''))
      res.statusCode = ok ? 200 : 401
      res.end(ok ? `item ${req.url.slice(7)}` : 'who are you')
      return
    }
    res.end('hello')
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})

after(() => {
  server.closeAllConnections()
  server.close()
})

describe('runLoadTest on loopback', () => {
  test('open model: every scheduled send is sent, answered and counted once, as the server saw', async () => {
    seen = 0
    const r = await runLoadTest({
      target: `${base}/`,
      rate: 200,
      duration: '1s',
      thresholds: ['errors < 1%'],
    })
    assert.equal(r.sends.scheduled, 200)
    assert.equal(r.sends.sent + r.sends.dropped, 200)
    assert.equal(r.requests, r.sends.sent)
    assert.equal(r.requests, seen)
    assert.equal(r.statuses['200'], seen)
    assert.equal(r.latency.corrected.count, seen)
    assert.equal(r.bytes, seen * 5)
    assert.equal(r.passed, true)
    assert.equal(
      r.timeline.reduce((s, p) => s + p.requests, 0),
      r.requests,
    )
  })

  test('spin pacing: every send goes out and is answered, each with a send time; the plan says so', async () => {
    seen = 0
    const r = await runLoadTest({ target: `${base}/`, rate: 500, duration: '1s', pacing: 'spin' })
    assert.equal(r.plan.pacing, 'spin')
    assert.equal(r.sends.sent, 500)
    assert.equal(r.requests, seen)
    assert.equal(r.sends.delay.count, 500)
    const closed = await runLoadTest({ target: `${base}/`, vus: 1, duration: '200ms' })
    assert.equal(closed.plan.pacing, undefined)
  })

  test('default pacing at 500/s runs on the pacer thread: every send goes out and is answered', async () => {
    seen = 0
    const r = await runLoadTest({ target: `${base}/`, rate: 500, duration: '1s' })
    assert.equal(r.plan.pacing, 'precise')
    assert.equal(r.sends.sent, 500)
    assert.equal(r.sends.dropped, 0)
    assert.equal(r.requests, seen)
    assert.equal(r.sends.delay.count, 500)
  })

  test('closed model: users loop; a scenario captures a token and sends it on', async () => {
    seen = 0
    const r = await runLoadTest({
      target: base,
      vus: 3,
      duration: '500ms',
      steps: [
        {
          path: '/login',
          method: 'POST',
          body: { user: 'u{{vu}}' },
          capture: { token: 'json:session.token' },
        },
        {
          path: '/items/{{iteration}}',
          headers: { authorization: 'Bearer {{token}}' },
          check: { status: 200, contains: 'item' },
        },
      ],
    })
    assert.ok(r.requests >= 6, `${r.requests} requests`)
    assert.equal(r.errors, 0, JSON.stringify(r.errorKinds))
    assert.equal(r.requests, seen)
    assert.equal(r.model, 'closed')
  })

  test('failed checks are errors, by kind; a weighted mix picks one step per iteration', async () => {
    const r = await runLoadTest({
      target: base,
      rate: 100,
      duration: '500ms',
      steps: [
        { path: '/', weight: 1, check: { contains: 'absent' } },
        { path: '/items/1', weight: 1 },
      ],
    })
    assert.equal(r.requests, 50)
    assert.equal(r.errors, r.requests)
    assert.equal(
      (r.errorKinds['check: body lacks "absent"'] ?? 0) + (r.errorKinds['status 401'] ?? 0),
      r.requests,
    )
    assert.ok((r.errorKinds['status 401'] ?? 0) > 0 && (r.errorKinds['check: body lacks "absent"'] ?? 0) > 0)
  })

  test('a failing error threshold stops the run early with abortOnFail', async () => {
    mode = 'fail'
    try {
      const r = await runLoadTest({
        target: base,
        rate: 50,
        duration: '60s',
        thresholds: ['errors < 1%'],
        abortOnFail: true,
        abortAfter: '1s',
      })
      assert.equal(r.stopped?.reason, 'threshold')
      assert.match(r.stopped?.detail ?? '', /errors < 1% failed/)
      assert.equal(r.passed, false)
      assert.ok(r.sends.scheduled < (60 * 50) / 2)
    } finally {
      mode = 'ok'
    }
  })

  test('worker threads split the plan and their reports merge exactly', async () => {
    seen = 0
    const r = await runLoadTestInWorkers(
      { target: `${base}/`, rate: 200, duration: '1s', connections: 4, thresholds: ['errors < 1%'] },
      2,
    )
    assert.equal(r.runs, 2)
    assert.equal(r.sends.scheduled, 200)
    assert.equal(r.requests, seen)
    assert.equal(r.latency.corrected.count, seen)
    assert.deepEqual(r.plan.stages, [{ durationMs: 1000, from: 200, to: 200 }])
    assert.equal(r.plan.connections, 4)
    assert.equal(r.passed, true)
  })

  test('a signal stops the run and the report covers what ran', async () => {
    const ac = new AbortController()
    setTimeout(() => ac.abort(), 300)
    const r = await runLoadTest({ target: base, rate: 100, duration: '60s', signal: ac.signal })
    assert.equal(r.stopped?.reason, 'interrupted')
    assert.ok(r.requests > 0 && r.requests < 1000)
    assert.equal(r.requests, r.sends.sent)
  })
})

describe('coordinated omission against a server in its own process', () => {
  let child: ChildProcess
  let target: string

  before(async () => {
    // Freezes its event loop for 400 ms once, 500 ms after its first request.
    const source = `
      const http = require('node:http')
      let first = 0
      const s = http.createServer((req, res) => {
        if (req.method !== 'HEAD' && first === 0) {
          first = Date.now()
          setTimeout(() => { const until = Date.now() + 400; while (Date.now() < until); }, 500)
        }
        res.end('ok')
      })
      s.listen(0, '127.0.0.1', () => console.log(s.address().port))`
    child = spawn(process.execPath, ['-e', source], { stdio: ['ignore', 'pipe', 'inherit'] })
    const [data] = (await once(child.stdout as NodeJS.ReadableStream, 'data')) as [Buffer]
    target = `http://127.0.0.1:${String(data).trim()}/`
  })

  after(() => {
    child.kill()
  })

  test('the open model sees the freeze in the corrected histogram; the queued requests are not hidden', async () => {
    const r = await runLoadTest({ target, rate: 200, duration: '1500ms', connections: 10 })
    assert.equal(r.errors, 0)
    // About 80 of 300 intended sends fall in the 400 ms freeze: more than 1% wait >= 200 ms.
    assert.ok(
      r.latency.corrected.percentiles.p99 !== undefined && r.latency.corrected.percentiles.p99 >= 200,
      JSON.stringify(r.latency.corrected),
    )
    // Requests queued for a connection during the freeze count from their intended time only.
    assert.ok(r.latency.corrected.max >= r.latency.uncorrected.max)
    assert.ok(r.latency.corrected.mean > r.latency.uncorrected.mean)
  })
})
