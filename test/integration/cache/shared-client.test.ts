import assert from 'node:assert/strict'
import { after, it } from 'node:test'
import { Redis } from 'ioredis'
import { createCache } from '../../../src/cache/index.js'
import { REDIS_URL, uniquePrefix } from '../../helpers/services.js'

const clients: Redis[] = []
after(() => {
  for (const c of clients) c.disconnect()
})

it('twenty caches on one connecting ioredis client: no MaxListenersExceededWarning, no listeners left after close()', async () => {
  const warnings: string[] = []
  const onWarning = (w: Error) => warnings.push(w.name)
  process.on('warning', onWarning)
  const client = new Redis(REDIS_URL, { lazyConnect: true })
  clients.push(client)
  const before = { ready: client.listenerCount('ready'), close: client.listenerCount('close') }
  const prefix = uniquePrefix('shared')
  const caches = Array.from({ length: 20 }, (_, i) =>
    createCache({ prefix: `${prefix}${i}:`, redis: { connection: client, bus: false } }),
  )
  await client.connect()
  await caches[0]?.set('k', 1)
  assert.equal(await caches[0]?.get('k'), 1)
  for (const c of caches) await c.close()
  await new Promise((r) => setImmediate(r))
  process.off('warning', onWarning)
  assert.deepEqual(warnings, [])
  assert.equal(client.listenerCount('ready'), before.ready)
  assert.equal(client.listenerCount('close'), before.close)
  await client.del(`${prefix}0:k`)
})
