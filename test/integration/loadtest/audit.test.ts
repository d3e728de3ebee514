/**
 * An outside audit of the load tester: ground-truth loopback servers (known delays, known byte
 * splits, a count of what they received) against what the reports say. Each test names what
 * broke; runs are short and lightly loaded (think time, low rates).
 */
import assert from 'node:assert/strict'
import { once } from 'node:events'
import net, { type AddressInfo } from 'node:net'
import { after, before, describe, test } from 'node:test'
import {
  formatMs,
  formatReport,
  type LoadTestOptions,
  runLoadTest,
  runLoadTestInWorkers,
} from '../../../src/loadtest/index.js'

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** A raw HTTP/1.1 server that writes its answers in chosen pieces; counts non-HEAD requests. */
let raw: net.Server
let rawBase: string
let rawSeen = 0

before(async () => {
  raw = net.createServer((socket) => {
    socket.setNoDelay(true)
    socket.on('error', () => {})
    let buffered = ''
    let chain = Promise.resolve()
    socket.on('data', (d: Buffer) => {
      buffered += d.toString('latin1')
      for (let end = buffered.indexOf('\r\n\r\n'); end !== -1; end = buffered.indexOf('\r\n\r\n')) {
        const [method, path] = buffered.slice(0, end).split(' ')
        buffered = buffered.slice(end + 4)
        // answers in order, each written in its pieces
        chain = chain.then(() => answer(socket, method as string, path as string))
      }
    })
  })
  raw.listen(0, '127.0.0.1')
  await once(raw, 'listening')
  rawBase = `http://127.0.0.1:${(raw.address() as AddressInfo).port}`
})

after(() => {
  raw.close()
})

async function answer(socket: net.Socket, method: string, path: string): Promise<void> {
  const w = (s: string): void => {
    if (!socket.destroyed) socket.write(s)
  }
  if (method === 'HEAD') return w('HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n')
  rawSeen++
  if (path === '/fill') {
    // a body of line feeds: it leaves the client's read buffer full of them
    w(`HTTP/1.1 200 OK\r\ncontent-length: 60000\r\n\r\n${'\n'.repeat(60_000)}`)
  } else if (path === '/split-header') {
    // a header line cut in two TCP segments
    w('HTTP/1.1 200 OK\r\ncontent-len')
    await sleep(20)
    w('gth: 5\r\n\r\nhello')
  } else if (path === '/byte-by-byte') {
    // a chunked answer, one byte per TCP segment
    for (const c of 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n') {
      w(c)
      await sleep(1)
    }
  } else if (path === '/delay-20') {
    await sleep(20)
    w('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok')
  } else w('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok')
}

describe('net client: responses split across TCP segments', () => {
  test('a header line split across two segments is read whole (not joined to stale bytes of the shared read buffer)', async () => {
    rawSeen = 0
    const r = await runLoadTest({
      target: `${rawBase}/`,
      client: 'net',
      vus: 1,
      think: '20ms',
      duration: '300ms',
      timeout: '1s',
      scrape: false,
      steps: [{ path: '/fill' }, { path: '/split-header' }],
    })
    assert.ok(r.requests >= 4, `${r.requests} requests`)
    assert.deepEqual(r.errorKinds, {})
    assert.equal(r.errors, 0)
    assert.equal(r.requests, rawSeen)
    assert.equal(r.statuses['200'], r.requests)
    assert.equal(r.bytes, (r.requests / 2) * (60_000 + 5))
  })

  test('a chunked answer arriving one byte per segment is parsed, not failed as malformed', async () => {
    rawSeen = 0
    const r = await runLoadTest({
      target: `${rawBase}/byte-by-byte`,
      client: 'net',
      vus: 1,
      think: '20ms',
      duration: '300ms',
      timeout: '1s',
      scrape: false,
    })
    assert.ok(r.requests >= 1)
    assert.deepEqual(r.errorKinds, {})
    assert.equal(r.requests, rawSeen)
    assert.equal(r.bytes, r.requests * 5)
  })
})

describe('worker threads', () => {
  test('workers schedule the same sends as one process (a rate not divisible by the workers is not rounded up per worker)', async () => {
    rawSeen = 0
    const options: LoadTestOptions = { target: `${rawBase}/`, duration: '1s', scrape: false, client: 'net' }
    // one process: 5/s over 1 s is 5 sends (at 0, 200, ... 800 ms); a ramp 3->9/s over 1 s is 6
    const single = await runLoadTest({ ...options, rate: 5 })
    assert.equal(single.sends.scheduled, 5)
    const constant = await runLoadTestInWorkers({ ...options, rate: 5 }, 2)
    assert.equal(constant.sends.scheduled, 5)
    assert.equal(constant.requests, 5)
    const ramp = await runLoadTestInWorkers({ ...options, rate: '3-9' }, 4)
    assert.equal(ramp.sends.scheduled, 6)
    assert.deepEqual(ramp.plan.stages, [{ durationMs: 1000, from: 3, to: 9 }])
    assert.equal(rawSeen, 5 + 5 + 6)
  })

  test('workers run the users asked for (3 users on 2 workers are 3, not 4)', async () => {
    const r = await runLoadTestInWorkers(
      { target: `${rawBase}/`, vus: 3, connections: 3, think: '100ms', duration: '300ms', scrape: false },
      2,
    )
    assert.equal(r.plan.vus, 3)
    assert.equal(r.plan.connections, 3)
  })
})

describe('open model figures against the plan', () => {
  test('a run at 5/s for 1 s lasts 1 s and reports 5/s (not the 0.8 s to the last answer, 6.1/s)', async () => {
    rawSeen = 0
    const r = await runLoadTest({ target: `${rawBase}/`, rate: 5, duration: '1s', scrape: false })
    assert.equal(r.requests, 5)
    assert.equal(rawSeen, 5)
    assert.ok(r.durationMs >= 1000, `durationMs ${r.durationMs}`)
    assert.ok(r.rps <= 5 && r.rps > 4.8, `rps ${r.rps}`)
  })
})

describe('edge values', () => {
  test('a timeout of 0 is refused before any load (the net client timed every request out, undici waited forever)', async () => {
    rawSeen = 0
    await assert.rejects(
      runLoadTest({ target: `${rawBase}/`, rate: 20, duration: '300ms', timeout: '0ms', scrape: false }),
      (err: Error) => err.name === 'ScenarioError' && /timeout/.test(err.message),
    )
    assert.equal(rawSeen, 0)
  })
})

describe('closed model text against its verdicts', () => {
  test('the printed closed-model latency is the one its thresholds judge (4 users on 1 connection: p50 20ms printed, 80ms judged)', async () => {
    const r = await runLoadTest({
      target: `${rawBase}/delay-20`,
      vus: 4,
      connections: 1,
      duration: '400ms',
      scrape: false,
      thresholds: ['p50 < 1s'],
    })
    const text = formatReport(r)
    const line = /^latency .*$/m.exec(text)?.[0] ?? ''
    const printed = /p50 (\S+)/.exec(line)?.[1]
    assert.equal(printed, formatMs(r.thresholds[0]?.actual ?? -1), text)
  })
})
