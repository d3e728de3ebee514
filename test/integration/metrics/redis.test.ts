import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { after, describe, it } from 'node:test'
import { Cluster, Redis } from 'ioredis'
import { createMonitor, instrumentRedis } from '../../../src/metrics/index.js'
import {
  cleanupPrefix,
  PrivateCluster,
  PrivateRedis,
  REDIS_URL,
  uniquePrefix,
} from '../../helpers/services.js'

const quiet = () => createMonitor({ env: {}, enabled: false, runtime: false, onWarning: () => {} })
const value = (text: string, series: string) => {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `))
  return line === undefined ? undefined : Number(line.slice(series.length + 1))
}
const until = async (cond: () => boolean, ms = 10_000) => {
  const deadline = Date.now() + ms
  while (!cond() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
  assert.ok(cond(), 'condition not reached')
}

describe('ioredis adapter', () => {
  const prefix = uniquePrefix('metrics-redis')
  after(() => cleanupPrefix(prefix))

  it('counts commands and errors by command, latency, in-flight and auto-pipeline batches on the real Redis', async () => {
    const m = quiet()
    const client = new Redis(REDIS_URL, { enableAutoPipelining: true, lazyConnect: true })
    await client.connect()
    const redis = instrumentRedis(client, { monitor: m, name: 'main' })
    await client.set(`${prefix}a`, '1')
    await Promise.all(Array.from({ length: 50 }, (_, i) => client.get(`${prefix}${i}`)))
    await assert.rejects(client.incr(`${prefix}a`).then(() => client.hget(`${prefix}a`, 'f')))
    await client.pipeline().get(`${prefix}a`).get(`${prefix}b`).get(`${prefix}c`).exec()
    m.collect()
    const text = await m.metrics()
    assert.equal(value(text, 'hotpath_redis_commands_total{client="main",command="get"}'), 53)
    assert.equal(value(text, 'hotpath_redis_commands_total{client="main",command="set"}'), 1)
    assert.equal(value(text, 'hotpath_redis_command_errors_total{client="main",command="hget"}'), 1)
    assert.equal(value(text, 'hotpath_redis_command_duration_seconds_count{client="main",command="get"}'), 53)
    assert.equal(value(text, 'hotpath_redis_commands_in_flight{client="main"}'), 0)
    assert.equal(value(text, 'hotpath_redis_up{client="main"}'), 1)
    assert.equal(value(text, 'hotpath_redis_connection_status{client="main",status="ready"}'), 1)
    // the 50 concurrent GETs went out in auto-pipelined batches, the explicit pipeline as one of 3
    const batches = value(text, 'hotpath_redis_pipeline_commands_count{client="main"}') ?? 0
    const batched = value(text, 'hotpath_redis_pipeline_commands_sum{client="main"}') ?? 0
    assert.ok(batches >= 2 && batches < 50, `${batches} batches`)
    assert.ok(batched >= 53, `${batched} commands in batches`)
    const health = await m.health('readiness')
    assert.equal(health.status, 'healthy')
    assert.equal(health.components[0]?.name, 'redis:main')
    redis.dispose()
    assert.equal(Object.hasOwn(client, 'sendCommand'), false, 'the client is as it was')
    assert.equal(m.snapshot().components.length, 0)
    assert.equal((await m.health()).components.length, 0)
    const before = redis.stats().commands
    await client.get(`${prefix}a`)
    assert.equal(redis.stats().commands, before, 'nothing counted after dispose')
    m.collect()
    assert.doesNotMatch(await m.metrics(), /client="main"/, 'a disposed client leaves the exposition')
    client.disconnect()
    m.close()
  })

  it('sees a killed private redis-server: state, reconnects, failed health, then recovery', async () => {
    const server = await PrivateRedis.start()
    const m = quiet()
    const client = new Redis(server.url, { maxRetriesPerRequest: 0, retryStrategy: () => 50 })
    client.on('error', () => {})
    const redis = instrumentRedis(client, { monitor: m, name: 'private', healthCheck: { timeout: '500ms' } })
    await until(() => client.status === 'ready')
    await client.ping()
    await server.stop()
    await until(() => redis.stats().reconnects >= 2)
    m.collect()
    let text = await m.metrics()
    assert.equal(value(text, 'hotpath_redis_up{client="private"}'), 0)
    assert.ok((value(text, 'hotpath_redis_reconnects_total{client="private"}') ?? 0) >= 2)
    assert.notEqual(redis.stats().status, 'ready')
    assert.equal((await m.health()).status, 'unhealthy')
    await server.start()
    await until(() => client.status === 'ready')
    m.collect()
    text = await m.metrics()
    assert.equal(value(text, 'hotpath_redis_up{client="private"}'), 1)
    assert.equal(value(text, 'hotpath_redis_connection_status{client="private",status="ready"}'), 1)
    assert.equal((await m.health()).status, 'healthy')
    redis.dispose()
    client.disconnect()
    await server.stop()
    m.close()
  })

  it('instruments a Cluster client (commands routed to three masters, nodes, health)', async () => {
    if (spawnSync('sh', ['-c', 'command -v redis-server']).status !== 0)
      throw new Error('redis-server missing')
    const cluster = await PrivateCluster.start()
    const m = quiet()
    const client = new Cluster(cluster.nodes, { enableAutoPipelining: true })
    client.on('error', () => {})
    const redis = instrumentRedis(client, { monitor: m, name: 'cluster' })
    await until(() => client.status === 'ready', 20_000)
    await Promise.all(Array.from({ length: 30 }, (_, i) => client.set(`${prefix}k${i}`, String(i))))
    m.collect()
    const text = await m.metrics()
    assert.equal(value(text, 'hotpath_redis_commands_total{client="cluster",command="set"}'), 30)
    assert.equal(value(text, 'hotpath_redis_cluster_nodes{client="cluster"}'), 3)
    assert.equal(value(text, 'hotpath_redis_up{client="cluster"}'), 1)
    assert.equal((await m.health()).status, 'healthy')
    redis.dispose()
    client.disconnect()
    await cluster.stop()
    m.close()
  })

  it('refuses what is not a client and unknown options', () => {
    assert.throws(() => instrumentRedis({} as never), /ioredis/)
    const client = new Redis(REDIS_URL, { lazyConnect: true })
    assert.throws(() => instrumentRedis(client, { nmae: 'x' } as never), /did you mean "name"/i)
    client.disconnect()
  })
})
