import assert from 'node:assert/strict'
import net from 'node:net'
import { describe, it } from 'node:test'
import { Redis } from 'ioredis'
import { buildServer } from '../../../src/server/app.js'
import { loadConfig } from '../../../src/server/config.js'
import { PrivateServer } from '../../helpers/private-servers.js'
import { freePort, REDIS_URL, uniqueStream } from '../../helpers/services.js'
import { tick } from './sockets.js'

interface Component {
  name: string
  status: string
  error?: string
  details?: Record<string, unknown>
}

/**
 * The component was answered from what the background probe recorded, not by the monitor's
 * check timeout (which answers "no answer within <timeout>ms" and carries no details). Asserted
 * on the outcome, never on a duration.
 */
function fromRecordedState(c: Component | undefined): void {
  assert.ok(c, 'the component is reported')
  assert.doesNotMatch(String(c.error ?? ''), /no answer within/, `timed out instead: ${c.error}`)
  assert.ok(c.details !== undefined, 'the recorded state comes with its details')
}

describe('reference server: readiness', () => {
  // Regression: with REDIS_URL at a closed port the redis check PINGed through ioredis' reconnect
  // attempts and /health/ready answered after about 970 ms, just under common 1 s probe timeouts.
  it('reports redis not ready at once when REDIS_URL points at a closed port', async () => {
    const port = await freePort()
    const server = await buildServer(
      loadConfig({ BACKEND_LATENCY_MS: '1', REDIS_URL: `redis://127.0.0.1:${port}` }),
    )
    try {
      await server.app.ready()
      const r = await server.app.inject('/health/ready')
      const report = r.json() as { status: string; components: Component[] }
      const redis = report.components.find((c) => c.name === 'redis')
      assert.ok(redis, 'a redis component is reported')
      assert.equal(redis.status, 'unhealthy')
      assert.notEqual(report.status, 'healthy')
      fromRecordedState(redis)
      assert.notEqual(redis.details?.connection, 'ready')
    } finally {
      await server.close()
    }
  })

  // The same defect, deterministic: a Redis that accepts connections and never answers held the
  // readiness check for its whole 1 s timeout (a closed port did once ioredis' reconnect delay grew).
  it('reports redis not ready at once when Redis accepts connections but never answers', async () => {
    const sockets = new Set<net.Socket>()
    const silent = net.createServer((socket) => {
      sockets.add(socket)
      socket.on('error', () => {})
    })
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
    const { port } = silent.address() as net.AddressInfo
    const server = await buildServer(
      loadConfig({ BACKEND_LATENCY_MS: '1', REDIS_URL: `redis://127.0.0.1:${port}` }),
    )
    try {
      await server.app.ready()
      for (let i = 0; i < 200 && sockets.size === 0; i++) await tick(10)
      const report = (await server.app.inject('/health/ready')).json() as { components: Component[] }
      const redis = report.components.find((c) => c.name === 'redis')
      assert.equal(redis?.status, 'unhealthy')
      fromRecordedState(redis)
    } finally {
      await server.close()
      // after the client is gone, so no reconnection slips in behind the destroy
      const closed = new Promise((r) => silent.close(r))
      for (const s of sockets) s.destroy()
      await closed
    }
  })

  it('reports redis ready once the connection is up and a PING was answered', async () => {
    const server = await buildServer(loadConfig({ BACKEND_LATENCY_MS: '1', REDIS_URL }))
    try {
      await server.app.ready()
      let redis: Component | undefined
      for (let i = 0; i < 200; i++) {
        const report = (await server.app.inject('/health/ready')).json() as { components: Component[] }
        redis = report.components.find((c) => c.name === 'redis')
        if (redis?.status === 'healthy') break
        await tick(25)
      }
      assert.equal(redis?.status, 'healthy')
      assert.equal(redis?.details?.connection, 'ready')
    } finally {
      await server.close()
    }
  })
})

describe('reference server: readiness of the agents', () => {
  it('reports the agents not consuming while Redis refuses their subscribe (an ACL without XGROUP), and ready once it allows it', async () => {
    const admin = new Redis(REDIS_URL)
    const user = `hp_rdy_${Math.random().toString(36).slice(2, 10)}`
    await admin.call('ACL', 'SETUSER', user, 'on', '>pw', '~*', '&*', '+@all', '-xgroup')
    const url = new URL(REDIS_URL)
    url.username = user
    url.password = 'pw'
    const server = await buildServer(loadConfig({ BACKEND_LATENCY_MS: '1', REDIS_URL: url.toString() }))
    const agentsOf = async () => {
      const report = (await server.app.inject('/health/ready')).json() as { components: Component[] }
      return report.components.find((c) => c.name === 'agents')
    }
    try {
      await server.app.ready()
      let agents: Component | undefined
      for (let i = 0; i < 200; i++) {
        agents = await agentsOf()
        if (Number(agents?.details?.subscribeFailures) >= 3) break
        await tick(25)
      }
      assert.equal(agents?.status, 'unhealthy')
      assert.deepEqual([...((agents?.details?.waiting as string[] | undefined) ?? [])].sort(), [
        'gateway',
        'inventory',
        'pricing',
      ])
      assert.ok(Number(agents?.details?.subscribeFailures) >= 3, JSON.stringify(agents))
      await admin.call('ACL', 'SETUSER', user, '+xgroup')
      for (let i = 0; i < 400; i++) {
        agents = await agentsOf()
        if (agents?.status === 'healthy') break
        await tick(25)
      }
      assert.equal(agents?.status, 'healthy', JSON.stringify(agents))
      assert.deepEqual(agents?.details?.waiting, [])
    } finally {
      await server.close()
      await admin.call('ACL', 'DELUSER', user)
      admin.disconnect()
    }
  })
})

describe('reference server: readiness with NATS_URL', () => {
  const natsOf = async (server: Awaited<ReturnType<typeof buildServer>>) => {
    const report = (await server.app.inject('/health/ready')).json() as { components: Component[] }
    return report.components.find((c) => c.name === 'nats')
  }
  const untilNats = async (server: Awaited<ReturnType<typeof buildServer>>, status: string) => {
    let nats: Component | undefined
    for (let i = 0; i < 400; i++) {
      nats = await natsOf(server)
      if (nats?.status === status) return nats
      await tick(25)
    }
    assert.fail(`nats never turned ${status}: ${JSON.stringify(nats)}`)
  }

  it('reports nats not ready at once when NATS_URL points at a closed port', async () => {
    const port = await freePort()
    const server = await buildServer(
      loadConfig({
        BACKEND_LATENCY_MS: '1',
        NATS_URL: `nats://127.0.0.1:${port}`,
        NATS_STREAM: uniqueStream('rdy'),
      }),
    )
    try {
      await server.app.ready()
      const nats = await natsOf(server)
      assert.equal(nats?.status, 'unhealthy')
      assert.equal(nats?.details?.connection, 'connecting')
      fromRecordedState(nats)
    } finally {
      await server.close()
    }
  })

  it('reports nats ready, then not ready from recorded state when the server is killed or freezes, then ready again', {
    timeout: 60_000,
  }, async () => {
    const nats = await PrivateServer.nats()
    const server = await buildServer(
      loadConfig({ BACKEND_LATENCY_MS: '1', NATS_URL: nats.url, NATS_STREAM: uniqueStream('rdy') }),
    )
    try {
      await server.app.ready()
      const up = await untilNats(server, 'healthy')
      assert.equal(up.details?.connection, 'connected')
      assert.equal(typeof up.details?.rttMs, 'number')

      await nats.stop() // the socket closes: the client's status event says so
      const down = await untilNats(server, 'unhealthy')
      assert.notEqual(down.details?.connection, 'connected')
      fromRecordedState(down)

      await nats.start()
      await untilNats(server, 'healthy')

      nats.pause() // the socket stays open and nothing answers: the PING deadline says so
      const frozen = await untilNats(server, 'unhealthy')
      assert.equal(frozen.details?.connection, 'connected')
      assert.match(String(frozen.details?.error), /PONG/)
      fromRecordedState(frozen)
      nats.resume()
      await untilNats(server, 'healthy')
    } finally {
      nats.resume()
      await server.close()
      await nats.close()
    }
  })
})
