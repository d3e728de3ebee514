/**
 * An outside audit of direct hits (response-cache/direct.ts) and the end of a response
 * (response-end.ts), over real sockets: each test is named for what broke.
 */
import assert from 'node:assert/strict'
import net from 'node:net'
import { after, describe, it } from 'node:test'
import Fastify, { type FastifyInstance } from 'fastify'
import hotpath from '../../../src/fastify/index.js'
import { createMonitor, type Monitor } from '../../../src/metrics/index.js'
import { adaptiveLimit } from '../../../src/resilience/index.js'

const apps: FastifyInstance[] = []
after(async () => {
  for (const a of apps) await a.close()
})

function newMonitor(): Monitor {
  return createMonitor({ enabled: false, env: {}, onWarning: () => {} })
}

async function series(monitor: Monitor, name: string): Promise<number> {
  const text = await monitor.registry.metrics()
  const line = text.split('\n').find((l) => l.startsWith(name))
  return line === undefined ? 0 : Number(line.split(' ').pop())
}

const until = async (cond: () => boolean | Promise<boolean>): Promise<void> => {
  for (let i = 0; i < 200 && !(await cond()); i++) await new Promise((r) => setTimeout(r, 10))
}

const portOf = (app: FastifyInstance): number => (app.server.address() as { port: number }).port

/** Opens a raw connection to `port` (errors ignored: the tests destroy it). */
async function connect(port: number): Promise<net.Socket> {
  const s = net.connect(port, '127.0.0.1')
  s.on('error', () => {})
  await new Promise((r) => s.once('connect', r))
  return s
}

describe('direct hits and the end of a response, audited', () => {
  it('a client that goes away with pipelined requests queued on its connection gets its in-flight gauge and adaptive slots back (regression: Node emits no close on a queued response; both leaked for good)', async () => {
    const monitor = newMonitor()
    const limit = adaptiveLimit({ initialLimit: 5, minLimit: 1, maxLimit: 5 })
    const app = Fastify()
    apps.push(app)
    await app.register(hotpath, { monitor, compression: false, shedding: { adaptiveLimit: limit } })
    let entered = 0
    let release!: () => void
    const gate = new Promise<void>((r) => {
      release = r
    })
    app.get('/slow', async () => {
      entered++
      await gate
      return { ok: true }
    })
    app.get('/fast', async () => {
      entered++
      return { ok: true }
    })
    await app.listen({ port: 0, host: '127.0.0.1' })
    const s = await connect(portOf(app))
    const req = (path: string) => `GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`
    s.write(req('/slow') + req('/fast') + req('/fast'))
    await until(() => entered === 3)
    assert.equal(entered, 3)
    assert.equal(limit.inFlight, 3)
    s.destroy()
    await until(
      async () => limit.inFlight === 0 && (await series(monitor, 'hotpath_http_requests_in_flight')) === 0,
    )
    assert.equal(limit.inFlight, 0, 'every slot released when the client went away')
    assert.equal(await series(monitor, 'hotpath_http_requests_in_flight'), 0)
    release()
    await new Promise((r) => setTimeout(r, 50))
    assert.equal(limit.inFlight, 0)
    assert.equal(await series(monitor, 'hotpath_http_requests_in_flight'), 0)
    assert.equal(
      await series(monitor, 'hotpath_http_request_duration_seconds_count{route="/fast"'),
      0,
      'a queued response that was never sent is not a duration',
    )
  })
})
