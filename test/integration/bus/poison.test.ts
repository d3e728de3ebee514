/**
 * Regression: a message that kills every consumer taking it was taken over (XAUTOCLAIM) forever,
 * because take-overs did not count against `retry.attempts`. Consumers are child processes that
 * die on the message; after 3 deaths (attempts: 3) the next consumer dead-letters it with reason
 * 'max-deliveries' and stays alive.
 */
import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { after, it } from 'node:test'
import { Redis } from 'ioredis'
import { createBus, redisTransport } from '../../../src/bus/index.js'
import { cleanupPrefix, REDIS_URL, uniquePrefix } from '../../helpers/services.js'
import { until } from './conformance.js'

const prefix = uniquePrefix('bus-poison')
const root = new URL('../../..', import.meta.url).pathname
const redis = new Redis(REDIS_URL)
const children: ChildProcess[] = []
after(async () => {
  for (const c of children) c.kill('SIGKILL')
  await cleanupPrefix(prefix)
  redis.disconnect()
})

function consumer(): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'test/integration/bus/poison-consumer.ts', REDIS_URL, prefix, 'poison'],
    { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] },
  )
  children.push(child)
  return new Promise((resolve, reject) => {
    child.stdout?.on('data', (d: Buffer) => {
      if (d.toString().includes('ready')) resolve(child)
    })
    child.once('exit', (code, signal) =>
      reject(new Error(`consumer exited before ready (${code ?? signal})`)),
    )
  })
}

it('a poison message that kills every consumer is dead-lettered after retry.attempts take-overs', {
  timeout: 60_000,
}, async () => {
  const t = redisTransport({ redis: REDIS_URL, prefix })
  const producer = createBus({ name: 'poison-producer', transport: t })
  let child = await consumer()
  await producer.send('poison', 'job', 'poison')
  let deaths = 0
  for (;;) {
    const exited = new Promise<'exit'>((r) => child.once('exit', () => r('exit')))
    const buried = until(
      async () => (await t.listDeadLetters({ to: 'poison' })).length > 0,
      15_000,
      'the poison message in the dead letters',
    ).then(() => 'buried' as const)
    const what = await Promise.race([exited, buried])
    if (what === 'buried') break
    deaths++
    assert.ok(deaths <= 3, `${deaths} consumers died on the poison message (retry.attempts is 3)`)
    child = await consumer()
  }
  assert.equal(deaths, 3)
  const [letter] = await t.listDeadLetters({ to: 'poison' })
  assert.equal(letter?.reason, 'max-deliveries')
  assert.equal(letter?.attempts, 3)
  assert.equal(letter?.envelope.payload, 'poison')
  // the consumer that buried it is alive and handles the next message
  await producer.send('poison', 'job', 'fine')
  await until(async () => (await redis.get(`${prefix}ok`)) === 'fine', 10_000, 'the next message')
  assert.equal(child.exitCode, null)
  await producer.close()
  await t.close()
})
