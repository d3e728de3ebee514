/**
 * The consumer process of the poison-message test: a `job` whose payload is 'poison' kills the
 * process (SIGKILL, no outcome recorded); any other payload is written to `<prefix>ok`.
 * Argv: redis URL, prefix, address.
 */
import { Redis } from 'ioredis'
import { createBus, redisTransport } from '../../../src/bus/index.js'

const [url = 'redis://127.0.0.1:6379', prefix = 'hp:bus:', address = 'poison'] = process.argv.slice(2)
const redis = new Redis(url)
const transport = redisTransport({ redis: url, prefix, claimIdle: 300, block: 100 })
const bus = createBus({ name: address, transport, retry: { attempts: 3 } })
bus.on('job', async (payload: string) => {
  if (payload === 'poison') process.kill(process.pid, 'SIGKILL')
  await redis.set(`${prefix}ok`, payload)
})
await bus.whenReady()
process.stdout.write('ready\n')
