/**
 * kill -9 a consumer process holding 10,000 messages (handled in batches of 50): nothing is
 * lost, and with the side effect written in the MULTI that marks the message processed
 * (`markProcessedIn`), none is repeated, the batch running at the kill included. The survivor
 * takes the dead consumer's entries over after claimIdle (1 s here).
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { after, it } from 'node:test'
import { Redis } from 'ioredis'
import { createBus, type Message, redisTransport } from '../../../src/bus/index.js'
import { cleanupPrefix, REDIS_URL, uniquePrefix } from '../../helpers/services.js'
import { until } from './conformance.js'

const prefix = uniquePrefix('bus-kill9')
const root = new URL('../../..', import.meta.url).pathname
const redis = new Redis(REDIS_URL)
after(async () => {
  await cleanupPrefix(prefix)
  redis.disconnect()
})

it('kill -9 of a consumer with 10,000 messages in flight: 0 lost, 0 repeated side effects (effect and processed mark in one MULTI)', {
  timeout: 45_000,
}, async (t) => {
  const N = 10_000
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'test/integration/bus/crash-consumer.ts', REDIS_URL, prefix, 'crash', '50'],
    { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] },
  )
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => {
        if (d.toString().includes('ready')) resolve()
      })
      child.once('exit', (code) => reject(new Error(`consumer exited early (${code})`)))
    })
    const producerT = redisTransport({ redis: REDIS_URL, prefix })
    const producer = createBus({ name: 'crash-producer', transport: producerT })
    await Promise.all(Array.from({ length: N }, (_, i) => producer.send('crash', 'job', i)))
    const effects = `${prefix}effects`
    await until(async () => (await redis.hlen(effects)) >= 500, 20_000, 'the consumer to start handling')
    child.kill('SIGKILL')
    await new Promise((r) => child.once('exit', r))
    const before = await redis.hlen(effects)
    assert.ok(before < N, `the consumer finished all ${N} before the kill; nothing was in flight`)

    const survivorT = redisTransport({ redis: REDIS_URL, prefix, claimIdle: 1000, block: 200 })
    const survivor = createBus({ name: 'crash', transport: survivorT, maxQueued: 20_000 })
    survivor.onBatch(
      'job',
      async (messages: Message[]) => {
        const tx = redis.multi()
        for (const m of messages) survivorT.markProcessedIn(tx.hincrby(effects, String(m.payload), 1), m)
        await tx.exec()
      },
      { maxSize: 50, maxWait: 20, idempotent: true },
    )
    await until(async () => (await redis.hlen(effects)) === N, 30_000, `all ${N} side effects`)
    const counts = Object.values(await redis.hgetall(effects)).map(Number)
    const repeated = counts.filter((c) => c > 1).length
    t.diagnostic(`handled before the kill: ${before}; repeated side effects: ${repeated}`)
    assert.equal(counts.length, N, 'lost messages')
    assert.equal(repeated, 0, 'side effects repeated after the kill')
    await survivor.close()
    await producer.close()
    await survivorT.close()
    await producerT.close()
  } finally {
    child.kill('SIGKILL')
  }
})
