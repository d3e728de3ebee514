import assert from 'node:assert/strict'
import { after, it } from 'node:test'
import { Redis } from 'ioredis'
import { createBus, redisTransport } from '../../../src/bus/index.js'
import { PRUNE } from '../../../src/bus/redis-scripts.js'
import { cleanupPrefix, REDIS_URL, uniquePrefix, waitUntil } from '../../helpers/services.js'

const redis = new Redis(REDIS_URL)
redis.defineCommand('prune', { numberOfKeys: 1, lua: PRUNE })
const prune = (key: string, consumer: string, minIdle: number): Promise<number> =>
  (redis as unknown as { prune(...a: unknown[]): Promise<number> }).prune(key, 'hp', consumer, minIdle)
const prefixes: string[] = []
after(async () => {
  for (const p of prefixes) await cleanupPrefix(p)
  redis.disconnect()
})

/** The consumer names of group hp on `stream`, with what each holds pending. */
async function consumers(stream: string): Promise<Map<string, number>> {
  const rows = (await redis.call('XINFO', 'CONSUMERS', stream, 'hp')) as Array<Array<string | number>>
  const out = new Map<string, number>()
  for (const r of rows) out.set(String(r[r.indexOf('name') + 1]), Number(r[r.indexOf('pending') + 1]))
  return out
}

it('a closed bus leaves no consumer name behind in its groups', async () => {
  const prefix = uniquePrefix('names-close')
  prefixes.push(prefix)
  const t = redisTransport({ redis: REDIS_URL, prefix, block: 100 })
  const bus = createBus({ name: 'x', transport: t })
  let handled = 0
  bus.on('job', () => {
    handled++
  })
  await bus.whenReady()
  await bus.send('x', 'job', 1)
  await waitUntil('the message', async () => handled === 1)
  const streams = [0, 1, 2, 3].map((p) => `${prefix}{x}:s${p}`)
  assert.ok((await consumers(streams[2] as string)).has(bus.inbox), 'the bus reads under its inbox name')
  await bus.close()
  for (const s of streams) assert.equal((await consumers(s)).has(bus.inbox), false, s)
  await t.close()
})

it('regression: the consumer names of crashed buses piled up in the groups; the periodic prune removes those idle with nothing pending', async () => {
  const prefix = uniquePrefix('names-prune')
  prefixes.push(prefix)
  const stream = `${prefix}{x}:s2`
  await redis.xgroup('CREATE', stream, 'hp', '0', 'MKSTREAM')
  // names left by buses that died (their reads created them), nothing pending under them
  for (const ghost of ['ghost-a', 'ghost-b']) await redis.xgroup('CREATECONSUMER', stream, 'hp', ghost)
  assert.deepEqual([...(await consumers(stream)).keys()].sort(), ['ghost-a', 'ghost-b'])
  const t = redisTransport({ redis: REDIS_URL, prefix, block: 100, claimIdle: 300 })
  const bus = createBus({ name: 'x', transport: t })
  try {
    await bus.whenReady()
    await waitUntil('the ghosts to be pruned', async () => {
      const names = await consumers(stream)
      return !names.has('ghost-a') && !names.has('ghost-b')
    })
    assert.ok(t.pruned >= 2)
    // the live bus's own name may go too while it is idle (Redis 7.0 does not count an empty read
    // as activity); its next read creates it again, so it still consumes
    let handled = 0
    bus.on('job', () => {
      handled++
    })
    await bus.send('x', 'job', 1)
    await waitUntil('the message', async () => handled === 1)
  } finally {
    await bus.close()
    await t.close()
  }
})

it('the prune never removes a consumer that holds entries (they would lose their owner and never be delivered again)', async () => {
  const prefix = uniquePrefix('names-held')
  prefixes.push(prefix)
  const stream = `${prefix}{x}:s2`
  await redis.xgroup('CREATE', stream, 'hp', '0', 'MKSTREAM')
  await redis.xadd(stream, '*', 'm', '{}')
  await redis.xreadgroup('GROUP', 'hp', 'holder', 'COUNT', 1, 'STREAMS', stream, '>')
  await redis.xgroup('CREATECONSUMER', stream, 'hp', 'empty')
  assert.equal(await prune(stream, 'holder', 0), 0, 'by name')
  assert.equal(await prune(stream, '', 0), 1, 'by idleness: only the empty one')
  assert.deepEqual([...(await consumers(stream)).entries()], [['holder', 1]])
  assert.equal(await prune(`${prefix}{nogroup}:s2`, '', 0), 0, 'a stream without the group is no error')
})
