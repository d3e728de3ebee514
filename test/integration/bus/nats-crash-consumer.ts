/**
 * The consumer process of the NATS kill -9 test (and of the bench's recovery figure): handles
 * `job` messages in batches of 50 with an idempotent side effect (HINCRBY per payload in Redis),
 * slowly, so thousands of messages are in flight when the parent kills it. Argv: NATS URL,
 * stream, Redis URL, effects key, batch delay ms.
 */
import { Redis } from 'ioredis'
import { createBus, natsTransport } from '../../../src/bus/index.js'
import { countEffects } from './effects.js'

const [
  servers = 'nats://127.0.0.1:4222',
  stream = 'hotpath_bus',
  url = 'redis://127.0.0.1:6379',
  key = 'effects',
  delay = '50',
] = process.argv.slice(2)
const redis = new Redis(url)
const transport = natsTransport({ servers, stream, ackWait: 1000, maxAckPending: 20_000 })
const bus = createBus({ name: 'crash', transport, maxQueued: 20_000 })
bus.onBatch('job', countEffects(redis, key, Number(delay)), { maxSize: 50, maxWait: 20, idempotent: true })
await bus.whenReady()
process.stdout.write('ready\n')
