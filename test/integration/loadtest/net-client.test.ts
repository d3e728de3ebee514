/**
 * The `net` client against real loopback servers, each run beside the same run through undici:
 * counts, statuses, bytes and error kinds must be equal, and the server must have seen the same
 * requests. Servers: node:http (fixed and chunked bodies, captures and checks, Connection: close
 * on every other answer, pipelining), one that answers slowly or stalls mid-body (timeouts), and
 * a raw socket server that answers malformed responses or hangs up.
 */
import assert from 'node:assert/strict'
import { once } from 'node:events'
import http from 'node:http'
import net, { type AddressInfo } from 'node:net'
import { after, before, describe, test } from 'node:test'
import {
  type LoadTestOptions,
  type LoadTestReport,
  runLoadTest,
  type StepSpec,
} from '../../../src/loadtest/index.js'

let server: http.Server
let base: string
const seen = new Map<string, number>()
let answered = 0

let raw: net.Server
let rawBase: string

before(async () => {
  server = http.createServer((req, res) => {
    if (req.method === 'HEAD') {
      // node:http keeps the Content-Length of what a GET would get and sends no body
      res.end(req.url === '/head-length' ? 'hello' : undefined)
      return
    }
    const path = req.url ?? '/'
    seen.set(path, (seen.get(path) ?? 0) + 1)
    answered++
    if (path === '/chunked') {
      res.write('hello, ')
      setImmediate(() => res.end('chunked world'))
    } else if (path === '/login') {
      let body = ''
      req.on('data', (d: Buffer) => {
        body += d
      })
      req.on('end', () => {
        res.setHeader('content-type', 'application/json')
        res.end(JSON.stringify({ session: { token: `t-${JSON.parse(body).user}` } }))
      })
    } else if (path.startsWith('/items/')) {
      res.statusCode = req.headers.authorization?.startsWith('Bearer t-') === true ? 200 : 401
      res.end(`item for ${req.headers.authorization}`)
    } else if (path === '/close') {
      // every other answer retires the connection
      if (answered % 2 === 0) res.setHeader('connection', 'close')
      res.end('bye')
    } else if (path === '/slow') setTimeout(() => res.end('late'), 2000)
    else if (path === '/stall-body') {
      res.setHeader('content-length', '10')
      res.write('abc')
    } else if (path === '/missing') {
      res.statusCode = 404
      res.end('no')
    } else res.end('hello')
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`

  // A raw server: HEAD answered properly, other requests by path (requests have no bodies).
  raw = net.createServer((socket) => {
    let buffered = ''
    socket.on('error', () => {})
    socket.on('data', (d: Buffer) => {
      buffered += d.toString('latin1')
      for (let end = buffered.indexOf('\r\n\r\n'); end !== -1; end = buffered.indexOf('\r\n\r\n')) {
        const head = buffered.slice(0, end)
        buffered = buffered.slice(end + 4)
        const [method, path] = head.split(' ')
        if (method === 'HEAD') socket.write('HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n')
        else if (path === '/bad-status') socket.write('HTTP/1.1 2x0 OK\r\n\r\n')
        else if (path === '/hang-up') socket.destroy()
        else if (path === '/truncated') socket.end('HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc')
        else if (path === '/until-close') socket.end('HTTP/1.1 200 OK\r\n\r\nthe whole body')
        else if (path === '/one-per-connection') {
          // one answer, then a hard close: requests pipelined behind it are reset
          socket.write('HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 2\r\n\r\nok')
          socket.destroy()
          return
        } else socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok')
      }
    })
  })
  raw.listen(0, '127.0.0.1')
  await once(raw, 'listening')
  rawBase = `http://127.0.0.1:${(raw.address() as AddressInfo).port}`
})

after(() => {
  server.closeAllConnections()
  server.close()
  raw.close()
})

/** The same run through both clients, and what the server saw for each. */
async function both(
  options: LoadTestOptions,
): Promise<Array<{ report: LoadTestReport; seen: Map<string, number> }>> {
  const out = []
  for (const client of ['net', 'undici'] as const) {
    seen.clear()
    answered = 0
    const report = await runLoadTest({ duration: '1s', scrape: false, ...options, client })
    assert.equal(report.plan.client, client)
    out.push({ report, seen: new Map(seen) })
  }
  return out
}

function assertSameCounts(runs: Array<{ report: LoadTestReport; seen: Map<string, number> }>): void {
  const [n, u] = runs.map((r) => r.report) as [LoadTestReport, LoadTestReport]
  assert.equal(n.requests, u.requests)
  assert.deepEqual(n.statuses, u.statuses)
  assert.deepEqual(n.errorKinds, u.errorKinds)
  assert.equal(n.errors, u.errors)
  assert.equal(n.bytes, u.bytes)
  assert.deepEqual(runs[0]?.seen, runs[1]?.seen)
}

describe('net client vs undici on loopback', () => {
  test('fixed and chunked bodies, a 404, an open-model run: the same counts, statuses and bytes', async () => {
    const runs = await both({
      target: `${base}/`,
      rate: 150,
      steps: [
        { path: '/' },
        { path: '/chunked', check: { contains: 'hello, chunked' } },
        { path: '/missing' },
      ],
    })
    assertSameCounts(runs)
    const r = runs[0]?.report as LoadTestReport
    assert.deepEqual(r.statuses, { 200: 300, 404: 150 })
    assert.deepEqual(r.errorKinds, { 'status 404': 150 })
    assert.equal(r.bytes, 150 * ('hello'.length + 'hello, chunked world'.length + 'no'.length))
  })

  test('a templated POST, a JSON capture and a check that reads the body', async () => {
    const login: StepSpec = { path: '/login', method: 'POST', body: { user: 'u{{iteration}}' } }
    login.capture = { token: 'json:session.token' }
    const item: StepSpec = { path: '/items/{{iteration}}', check: { status: 200, contains: 'Bearer t-u' } }
    item.headers = { authorization: 'Bearer {{token}}' }
    const runs = await both({ target: `${base}/`, rate: 100, steps: [login, item] })
    assertSameCounts(runs)
    const r = runs[0]?.report as LoadTestReport
    assert.equal(r.requests, 200)
    assert.equal(r.errors, 0)
    assert.equal(runs[0]?.seen.get('/items/7'), 1)
  })

  test('HEAD answered with a Content-Length and no body, then a GET on the same connection', async () => {
    const runs = await both({
      target: `${base}/`,
      rate: 100,
      connections: 1,
      pipelining: 2,
      steps: [{ method: 'HEAD', path: '/head-length' }, { path: '/' }],
    })
    assertSameCounts(runs)
    assert.deepEqual(runs[0]?.report.statuses, { 200: 200 })
    assert.equal(runs[0]?.report.bytes, 100 * 'hello'.length)
  })

  test('a server that closes the connection after every other answer', async () => {
    const runs = await both({ target: `${base}/close`, rate: 200, connections: 4 })
    assertSameCounts(runs)
    assert.equal(runs[0]?.report.statuses['200'], 200)
    assert.equal(runs[0]?.report.errors, 0)
  })

  test('pipelining 4 on 2 connections: every request answered once, also when connections close', async () => {
    const runs = await both({ target: `${base}/`, rate: 400, connections: 2, pipelining: 4 })
    assertSameCounts(runs)
    assert.equal(runs[0]?.report.statuses['200'], 400)
    // requests pipelined behind a Connection: close answer are sent again on a new connection
    // (as undici does; the server may have seen some of them twice)
    const closing = await both({ target: `${base}/close`, rate: 400, connections: 2, pipelining: 4 })
    assert.deepEqual(closing[0]?.report.statuses, { 200: 400 })
    assert.deepEqual(closing[1]?.report.statuses, { 200: 400 })
  })

  test('slow answers and a stalled body: the same timeout error kinds', async () => {
    // undici's timers are coarse (up to ~1 s late): the answers come well after either fires
    const timeouts = { rate: 10, timeout: '300ms', gracefulStop: '2500ms' } as const
    const slow = await both({ target: `${base}/slow`, ...timeouts })
    assertSameCounts(slow)
    assert.deepEqual(slow[0]?.report.errorKinds, { UND_ERR_HEADERS_TIMEOUT: 10 })
    const stall = await both({ target: `${base}/stall-body`, ...timeouts })
    assertSameCounts(stall)
    assert.deepEqual(stall[0]?.report.errorKinds, { UND_ERR_BODY_TIMEOUT: 10 })
    // still in flight when the graceful stop ends: cancelled, all of them (undici 7.30 lets the
    // first request, on the preflight's connection, run to its answer: not compared)
    const cancelled = await runLoadTest({
      target: `${base}/slow`,
      rate: 10,
      duration: '1s',
      timeout: '10s',
      gracefulStop: '100ms',
      scrape: false,
      client: 'net',
    })
    assert.deepEqual(cancelled.errorKinds, { UND_ERR_DESTROYED: 10 })
  })

  test('malformed answers, hang-ups and truncated bodies: coded errors of the same kinds', async () => {
    for (const [path, kind] of [
      ['/bad-status', 'HPE_INVALID_STATUS'],
      ['/hang-up', 'UND_ERR_SOCKET'],
      ['/truncated', 'UND_ERR_SOCKET'],
    ] as const) {
      const runs = await both({ target: `${rawBase}${path}`, rate: 40, duration: '500ms' })
      assertSameCounts(runs)
      assert.deepEqual(runs[0]?.report.errorKinds, { [kind]: 20 }, path)
    }
    const untilClose = await both({ target: `${rawBase}/until-close`, rate: 40, duration: '500ms' })
    assertSameCounts(untilClose)
    assert.equal(untilClose[0]?.report.statuses['200'], 20)
    assert.equal(untilClose[0]?.report.bytes, 20 * 'the whole body'.length)
  })

  test('a request written to a connection the server has just closed is sent again, not failed with EPIPE', async () => {
    const r = await runLoadTest({
      target: `${rawBase}/one-per-connection`,
      rate: 1000,
      duration: '1s',
      connections: 2,
      pipelining: 4,
      scrape: false,
      client: 'net',
    })
    assert.deepEqual(r.errorKinds, {})
    assert.deepEqual(r.statuses, { 200: 1000 })
  })

  test('client "auto" picks net for http:// targets; "net" is refused for https://', async () => {
    const r = await runLoadTest({ target: `${base}/`, rate: 10, duration: '200ms', scrape: false })
    assert.equal(r.plan.client, 'net')
    await assert.rejects(
      runLoadTest({ target: 'https://127.0.0.1:1/', client: 'net', rate: 1 }),
      /client: 'net' speaks plain HTTP\/1.1 only/,
    )
  })
})
