import assert from 'node:assert/strict'
import { after, it } from 'node:test'
import { Redis } from 'ioredis'
import { createBus, redisTransport } from '../../../src/bus/index.js'
import { isHotpathError } from '../../../src/errors.js'
import { cleanupPrefix, REDIS_URL, uniquePrefix } from '../../helpers/services.js'

const redis = new Redis(REDIS_URL)
const prefixes: string[] = []
after(async () => {
  for (const p of prefixes) await cleanupPrefix(p)
  redis.disconnect()
})

/** Connections on the shared Redis named `name` (ioredis takes connectionName from the URL). */
async function named(name: string): Promise<number> {
  const list = (await redis.client('LIST')) as string
  return list.split('\n').filter((l) => l.includes(` name=${name} `)).length
}

function withName(name: string): string {
  const u = new URL(REDIS_URL)
  u.searchParams.set('connectionName', name)
  return u.toString()
}

it('regression: a transport closed while its first subscribe was still connecting left both its Redis connections open for good', async () => {
  const prefix = uniquePrefix('a26-connect')
  prefixes.push(prefix)
  const name = `a26c${Math.random().toString(36).slice(2, 8)}`
  const t = redisTransport({ redis: withName(name), prefix, block: 100 })
  const bus = createBus({ name: 'x', transport: t })
  await bus.close()
  await t.close()
  await new Promise((r) => setTimeout(r, 300))
  assert.equal(await named(name), 0)
})

it('regression: a second close() made while the first was still stopping a reader returned at once, the reader still connected and blocking on Redis', async () => {
  const prefix = uniquePrefix('a26-close2')
  prefixes.push(prefix)
  const name = `a26d${Math.random().toString(36).slice(2, 8)}`
  const t = redisTransport({ redis: withName(name), prefix, block: 2000 })
  const bus = createBus({ name: 'x', transport: t })
  const deadline = Date.now() + 5000
  while ((await named(name)) < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
  assert.equal(await named(name), 3, 'command, pub/sub and reader connected')
  const first = t.close()
  await t.close()
  await new Promise((r) => setTimeout(r, 200))
  assert.equal(await named(name), 0)
  await first
  await bus.close()
})

it('regression: a bus created on a transport closed before it ever connected opened Redis connections that nothing closed (and its send was stored)', async () => {
  const prefix = uniquePrefix('a26-late')
  prefixes.push(prefix)
  const name = `a26l${Math.random().toString(36).slice(2, 8)}`
  const t = redisTransport({ redis: withName(name), prefix, block: 100 })
  await t.close()
  const bus = createBus({ name: 'x', transport: t })
  await assert.rejects(bus.send('x', 'job', 1), (err: unknown) => isHotpathError(err, 'E_CLOSED'))
  await bus.close()
  await new Promise((r) => setTimeout(r, 300))
  assert.equal(await named(name), 0)
})
