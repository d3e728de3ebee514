/**
 * The consumer process of the kill -9 test (and of the bench's recovery figure): handles `job`
 * messages in batches of 50 with an exactly-once side effect (HINCRBY per message id in the MULTI that marks it processed), slowly, so
 * thousands of messages are in flight when the parent kills it. Argv: redis URL, prefix, address,
 * batch delay ms.
 */
import { Redis } from 'ioredis'
import { createBus, type Message, redisTransport } from '../../../src/bus/index.js'

const [url = 'redis://127.0.0.1:6379', prefix = 'hp:bus:', address = 'crash', delay = '50'] =
  process.argv.slice(2)
const redis = new Redis(url)
const transport = redisTransport({ redis: url, prefix, claimIdle: 1000, block: 200 })
const bus = createBus({ name: address, transport, maxQueued: 20_000 })
bus.onBatch(
  'job',
  async (messages: Message[]) => {
    // the side effect and the processed mark in one transaction: exactly once across a kill -9
    const tx = redis.multi()
    for (const m of messages)
      transport.markProcessedIn(tx.hincrby(`${prefix}effects`, String(m.payload), 1), m)
    await tx.exec()
    await new Promise((r) => setTimeout(r, Number(delay)))
  },
  { maxSize: 50, maxWait: 20, idempotent: true },
)
await bus.whenReady()
process.stdout.write('ready\n')
