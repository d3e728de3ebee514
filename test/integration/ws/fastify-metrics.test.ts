import assert from 'node:assert/strict'
import type { AddressInfo } from 'node:net'
import { describe, it } from 'node:test'
import websocket from '@fastify/websocket'
import Fastify from 'fastify'
import { WebSocket } from 'ws'
import { createMonitor } from '../../../src/metrics/index.js'
import { batched, decodeFrame, resolveBatchedOptions } from '../../../src/ws/index.js'
import { until } from './support.js'

describe('hotpath/ws with @fastify/websocket and a monitor', () => {
  it('batches a live-updates route and reports frames, messages, conflation and batch sizes', async () => {
    const monitor = createMonitor({ collectInterval: '1h' })
    const options = resolveBatchedOptions({ monitor, name: 'live' })
    const app = Fastify()
    await app.register(websocket)
    app.get('/live', { websocket: true }, (socket) => {
      const b = batched(socket, options)
      for (let i = 0; i < 100; i++) b.send({ agent: i % 5, step: i }, { key: `agent:${i % 5}` })
      for (let i = 0; i < 30; i++) b.send({ log: i })
    })
    await app.listen({ host: '127.0.0.1', port: 0 })
    try {
      const port = (app.server.address() as AddressInfo).port
      const client = new WebSocket(`ws://127.0.0.1:${port}/live`)
      const received: unknown[] = []
      client.on('message', (data, isBinary) => received.push(...decodeFrame(data as Buffer, {}, isBinary)))
      await until(() => received.length >= 35, 10_000, 'the live updates')
      const text = await monitor.metrics()
      const value = (name: string) =>
        Number(new RegExp(`^${name}\\{name="live"\\} (\\S+)$`, 'm').exec(text)?.[1])
      assert.equal(value('hotpath_ws_messages_total'), received.length)
      assert.ok(value('hotpath_ws_frames_total') < received.length)
      assert.ok(value('hotpath_ws_conflated_total') > 0)
      assert.equal(value('hotpath_ws_connections'), 1)
      assert.match(text, /hotpath_ws_batch_size_bucket\{name="live",le="10"\} \d+/)
      assert.match(text, /hotpath_ws_added_latency_seconds_count\{name="live"\} \d+/)
      client.close()
      let after = ''
      const poll = setInterval(() => void monitor.metrics().then((t) => (after = t)), 5)
      try {
        await until(
          () => /hotpath_ws_connections\{name="live"\} 0/.test(after),
          10_000,
          'the gauge back to 0',
        )
      } finally {
        clearInterval(poll)
      }
    } finally {
      await app.close()
      monitor.close()
    }
  })
})
