/** WebSocket steps against a loopback ws server: connect, send, await replies, checks and captures. */
import assert from 'node:assert/strict'
import { once } from 'node:events'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, test } from 'node:test'
import { WebSocketServer } from 'ws'
import { runLoadTest } from '../../../src/loadtest/index.js'

let server: http.Server
let wss: WebSocketServer
let base: string
let messages = 0

before(async () => {
  server = http.createServer((_req, res) => res.end('ok'))
  wss = new WebSocketServer({ server })
  wss.on('connection', (socket) => {
    socket.on('message', (data) => {
      messages++
      socket.send(`echo ${String(data)}`)
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})

after(() => {
  for (const c of wss.clients) c.terminate()
  wss.close()
  server.close()
})

test('each iteration connects, sends, awaits the replies; checks read the last reply', async () => {
  messages = 0
  const r = await runLoadTest({
    target: base,
    rate: 50,
    duration: '400ms',
    steps: [{ path: '/chat', ws: { send: ['hi {{iteration}}', 'bye'] }, check: { contains: 'echo bye' } }],
  })
  assert.equal(r.requests, 20)
  assert.equal(r.errors, 0, JSON.stringify(r.errorKinds))
  assert.equal(messages, 40)
  assert.equal(r.statuses['101'], 20)
})

test('missing replies are errors, by kind', async () => {
  const r = await runLoadTest({
    target: base,
    vus: 1,
    duration: '300ms',
    timeout: '100ms',
    steps: [{ path: '/chat', ws: { send: 'one', replies: 2 } }],
  })
  assert.ok(r.requests >= 1)
  assert.equal(r.errors, r.requests)
  assert.deepEqual(Object.keys(r.errorKinds), ['ws timeout'])
})
