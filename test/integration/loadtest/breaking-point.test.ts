/**
 * Breaking-point search against a loopback server that admits 100 requests per second (a token
 * bucket of 10) and answers 503 beyond: the break is by errors, so the search's answer does not
 * depend on how busy the machine is. (Regression: the server counted per wall-clock second, so a
 * 1 s step at 135/s that straddled two seconds, 60 + 75, broke nothing, and the search reported
 * 135 sustainable about half the time.)
 */
import assert from 'node:assert/strict'
import { once } from 'node:events'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, test } from 'node:test'
import { findBreakingPoint } from '../../../src/loadtest/index.js'

let server: http.Server
let url: string

before(async () => {
  let tokens = 10
  let last = performance.now()
  server = http.createServer((req, res) => {
    const now = performance.now()
    tokens = Math.min(10, tokens + (now - last) / 10)
    last = now
    if (req.method !== 'HEAD') {
      if (tokens >= 1) tokens -= 1
      else res.statusCode = 503
    }
    res.end()
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`
})

after(() => {
  server.closeAllConnections()
  server.close()
})

test('ramps until errors break a step, then bisects to the highest rate that held', async () => {
  const seen: number[] = []
  const r = await findBreakingPoint({
    target: url,
    from: 40,
    factor: 1.5,
    rampStep: '1s',
    steadyStep: '1s',
    precision: 0.15,
    recovery: false,
    onStep: (s) => seen.push(s.rate),
  })
  assert.deepEqual(seen.slice(0, 3), [40, 60, 90])
  assert.ok(r.firstBroken !== undefined && r.maxSustainable < r.firstBroken)
  assert.ok(r.maxSustainable >= 60 && r.maxSustainable <= 110, `max sustainable ${r.maxSustainable}`)
  const at = (rate: number) => r.steps.find((s) => s.rate === rate)
  assert.equal(at(r.maxSustainable)?.ok, true)
  assert.equal(at(r.firstBroken)?.ok, false)
  assert.match(at(r.firstBroken)?.reason ?? '', /errors|achieved/)
  assert.equal(r.recoveryMs, undefined)
})
