/**
 * The NATS JetStream transport beyond the shared conformance suite: batches by key, in-progress
 * acks for a handler that outlives ackWait, the max_deliver net, a stream of the same name with
 * other subjects, options, and kill -9 of a consumer process with 10,000 messages in flight.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { after, describe, it } from 'node:test'
import { Redis } from 'ioredis'
import { connect } from 'nats'
import {
  type Bus,
  type BusOptions,
  createBus,
  type Message,
  type NatsTransport,
  natsTransport,
} from '../../../src/bus/index.js'
import { escapeName, unescapeName } from '../../../src/bus/nats-options.js'
import { isHotpathError } from '../../../src/errors.js'
import { circuitBreaker, consecutive, constantBackoff } from '../../../src/resilience/index.js'
import { PrivateServer } from '../../helpers/private-servers.js'
import {
  cleanupNats,
  cleanupPrefix,
  freePort,
  NATS_URL,
  REDIS_URL,
  uniquePrefix,
  uniqueStream,
} from '../../helpers/services.js'
import { until } from './conformance.js'
import { countEffects, effectCounts } from './effects.js'

const root = new URL('../../..', import.meta.url).pathname

describe('nats transport', () => {
  const stream = uniqueStream('natst')
  const transports: NatsTransport[] = []
  const buses: Bus[] = []
  const make = (o: Parameters<typeof natsTransport>[0] = {}) => {
    const t = natsTransport({ servers: NATS_URL, stream, ...o })
    transports.push(t)
    return t
  }
  const bus = (t: NatsTransport, o: BusOptions) => {
    const b = createBus({ transport: t, ...o })
    buses.push(b)
    return b
  }
  after(async () => {
    for (const b of buses) await b.close({ drain: false }).catch(() => {})
    for (const t of transports) await t.close().catch(() => {})
    await cleanupNats(stream)
  })

  it('batches by key: one handler call per key and size, each message acked after its batch', async () => {
    const t = make()
    const b = bus(t, { name: 'rows' })
    const calls: Array<{ key: string; n: number }> = []
    b.onBatch(
      'row',
      (messages: Message[], batch) => {
        calls.push({ key: batch.key, n: messages.length })
      },
      { maxSize: 10, maxWait: 50 },
    )
    await b.whenReady()
    const a = bus(t, { name: 'rows-sender' })
    await Promise.all(
      Array.from({ length: 40 }, (_, i) => a.send('rows', 'row', i, { batchKey: `k${i % 2}` })),
    )
    await until(() => calls.reduce((s, c) => s + c.n, 0) === 40)
    assert.ok(calls.length <= 8, `${calls.length} handler calls for 40 messages in 2 keys`)
    assert.deepEqual([...new Set(calls.map((c) => c.key))].sort(), ['k0', 'k1'])
    await until(async () => (await b.queues()).normal === 0, 5000, 'the acks')
  })

  it('a handler running past ackWait keeps its message (in-progress acks): no second delivery', async () => {
    const one = make({ ackWait: 300 })
    const two = make({ ackWait: 300 })
    let runs = 0
    const slow = async () => {
      runs++
      await new Promise((r) => setTimeout(r, 1200))
    }
    const b1 = bus(one, { name: 'slow' })
    const b2 = bus(two, { name: 'slow' })
    b1.on('work', slow)
    b2.on('work', slow)
    await Promise.all([b1.whenReady(), b2.whenReady()])
    await bus(one, { name: 'slow-sender' }).send('slow', 'work', 1)
    await until(() => runs === 1)
    await new Promise((r) => setTimeout(r, 1600))
    assert.equal(runs, 1, 'the message was handed to another consumer while its handler ran')
    assert.equal(one.held + two.held, 0)
  })

  it('maxDeliver is a net: a message the server stops delivering becomes a dead letter', async () => {
    const t = make({ maxDeliver: 2 })
    const b = bus(t, { name: 'poison', retry: { attempts: 10, backoff: constantBackoff(10) } })
    let calls = 0
    b.on('p', () => {
      calls++
      throw new Error('always')
    })
    await b.whenReady()
    const id = await bus(t, { name: 'poison-sender' }).send('poison', 'p', 1)
    let dead: Awaited<ReturnType<Bus['deadLetters']>> = []
    await until(async () => {
      dead = await b.deadLetters()
      return dead.length === 1
    })
    assert.equal(calls, 2)
    assert.equal(dead[0]?.id, id)
    assert.equal(dead[0]?.reason, 'failed')
    assert.equal(dead[0]?.attempts, 2)
    assert.match(dead[0]?.error ?? '', /maxDeliver 2/)
    assert.deepEqual(await b.queues(), { urgent: 0, high: 0, normal: 0, low: 0 })
  })

  it('a breaker-open deferral costs no attempt and no delivery', async () => {
    const t = make()
    const b = bus(t, { name: 'deferred', retry: { attempts: 2, backoff: constantBackoff(10) } })
    let open = true
    const seen: number[] = []
    b.on(
      'd',
      (_p, m) => {
        seen.push(m.attempt)
        if (open) throw new Error('down')
      },
      { breaker: circuitBreaker({ breaker: consecutive(1), halfOpenAfter: 300 }) },
    )
    await b.whenReady()
    await bus(t, { name: 'deferred-sender' }).send('deferred', 'd', 1)
    await until(() => seen.length === 1)
    open = false
    await until(() => seen.length === 2)
    assert.deepEqual(seen, [1, 2], 'one failure spent one attempt; the waits while open spent none')
    assert.equal((await b.deadLetters()).length, 0)
  })

  for (const [what, squat, message] of [
    [
      'a stream of the same name with other subjects',
      (mine: string) => ({ name: mine, subjects: [`${mine}.elsewhere.>`] }),
      /subjects/,
    ],
    [
      'a stream of another name that holds the subjects',
      (mine: string) => ({ name: `${mine}_squat`, subjects: [`${mine}.m.>`] }),
      /overlap/,
    ],
  ] as const) {
    it(`${what} is refused with E_BUS_TRANSPORT`, async () => {
      const mine = uniqueStream('natsclash')
      const nc = await connect({ servers: NATS_URL })
      try {
        const jsm = await nc.jetstreamManager()
        await jsm.streams.add(squat(mine))
        const t = natsTransport({ servers: NATS_URL, stream: mine })
        await assert.rejects(
          t.subscribe('x', 'x#1', createBus({ name: 'unused' })),
          (e) =>
            isHotpathError(e, 'E_BUS_TRANSPORT') &&
            message.test(`${(e as Error).message} ${String((e as Error).cause)}`),
        )
        await t.close()
      } finally {
        await nc.close()
        await cleanupNats(mine)
      }
    })
  }

  it('transports connecting at once to a fresh server all set up the stream (CI saw the second add fail once with "subjects overlap"; the race did not recur here)', async () => {
    const stream = uniqueStream('natsrace')
    for (let round = 0; round < 3; round++) {
      const server = await PrivateServer.nats()
      const ts = Array.from({ length: 4 }, () => natsTransport({ servers: server.url, stream }))
      try {
        const buses = ts.map((t, i) => createBus({ name: `racer${i}`, transport: t }))
        await Promise.all(buses.map((b) => b.whenReady()))
        for (const b of buses) await b.close({ drain: false })
      } finally {
        for (const t of ts) await t.close().catch(() => {})
        await server.close()
      }
    }
  })

  it('options: unknown keys are refused with the closest name; servers or connection is required', () => {
    assert.throws(
      () => natsTransport({ servers: NATS_URL, ackWiat: 100 } as never),
      /did you mean "ackWait"/i,
    )
    assert.throws(() => natsTransport({}), /servers/)
    assert.throws(() => natsTransport({ servers: NATS_URL, stream: 'a.b' }), /stream must be/)
    assert.throws(() => natsTransport({ servers: NATS_URL, readCount: 0 }), /readCount/)
  })

  it('addresses with dots, spaces and # round-trip through subject tokens and consumer names', () => {
    for (const s of ['a.b', 'gateway#123.4.xyz', 'x y', 'ü~', 'plain-name_1']) {
      const e = escapeName(s)
      assert.match(e, /^[A-Za-z0-9_~-]+$/)
      assert.equal(unescapeName(e), s)
    }
  })
})

it('kill -9 of a consumer with 10,000 messages in flight: 0 lost, repeats bounded by one batch', {
  timeout: 60_000,
}, async (t) => {
  const N = 10_000
  const stream = uniqueStream('natskill')
  const prefix = uniquePrefix('nats-kill9')
  const effects = `${prefix}effects`
  const redis = new Redis(REDIS_URL)
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'test/integration/bus/nats-crash-consumer.ts',
      NATS_URL,
      stream,
      REDIS_URL,
      effects,
      '50',
    ],
    { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] },
  )
  const producerT = natsTransport({ servers: NATS_URL, stream })
  const survivorT = natsTransport({ servers: NATS_URL, stream, ackWait: 1000, maxAckPending: 20_000 })
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => {
        if (d.toString().includes('ready')) resolve()
      })
      child.once('exit', (code) => reject(new Error(`consumer exited early (${code})`)))
    })
    const producer = createBus({ name: 'crash-producer', transport: producerT })
    await Promise.all(Array.from({ length: N }, (_, i) => producer.send('crash', 'job', i)))
    await until(async () => (await redis.hlen(effects)) >= 500, 20_000, 'the consumer to start handling')
    child.kill('SIGKILL')
    await new Promise((r) => child.once('exit', r))
    const before = await redis.hlen(effects)
    assert.ok(before < N, `the consumer finished all ${N} before the kill; nothing was in flight`)

    const survivor = createBus({ name: 'crash', transport: survivorT, maxQueued: 20_000 })
    survivor.onBatch('job', countEffects(redis, effects), { maxSize: 50, maxWait: 20, idempotent: true })
    await until(async () => (await redis.hlen(effects)) === N, 40_000, `all ${N} side effects`)
    const { handled, repeated } = await effectCounts(redis, effects)
    t.diagnostic(`handled before the kill: ${before}; repeated side effects: ${repeated}`)
    assert.equal(handled, N, 'lost messages')
    assert.ok(
      repeated <= 50,
      `${repeated} side effects repeated (more than the one batch running at the kill)`,
    )
    await survivor.close()
    await producer.close()
  } finally {
    child.kill('SIGKILL')
    await survivorT.close()
    await producerT.close()
    await cleanupNats(stream)
    await cleanupPrefix(prefix)
    redis.disconnect()
  }
})

it('a server that comes back without its streams and KV buckets: they are made again, sends and consuming resume', {
  timeout: 60_000,
}, async () => {
  const server = await PrivateServer.nats()
  const stream = uniqueStream('natsmem')
  const consumerT = natsTransport({ servers: server.url, stream, storage: 'memory', ackWait: 1000 })
  const senderT = natsTransport({ servers: server.url, stream, storage: 'memory' })
  const consumer = createBus({ name: 'mem', transport: consumerT })
  const sender = createBus({ name: 'mem-sender', transport: senderT })
  try {
    const done = new Set<number>()
    consumer.on('job', (i: number) => {
      done.add(i)
    })
    await consumer.whenReady()
    // a dedup key opens the dedup bucket, which the server loses as well
    await sender.send('mem', 'job', 0, { dedupKey: 'k0' })
    await until(() => done.has(0), 10_000, 'a job before the restart')
    await server.stop()
    await server.close() // its store goes too: a server that comes back empty
    await server.start()
    let i = 1
    await until(
      async () => {
        await sender.send('mem', 'job', i, { dedupKey: `k${i}` }).then(
          () => i++,
          () => {},
        )
        return done.has(1)
      },
      30_000,
      'a job sent and handled after the restart',
    )
    assert.ok(done.has(1))
  } finally {
    await server.close([consumer, sender], [consumerT, senderT])
  }
})

it('close() returns while NATS never came up (it waited for the first connection forever); the pending setup fails with E_CLOSED', async () => {
  const port = await freePort()
  const t = natsTransport({ servers: `nats://127.0.0.1:${port}`, stream: uniqueStream('never') })
  const bus = createBus({ name: 'never', transport: t })
  bus.on('job', () => {})
  await new Promise((r) => setTimeout(r, 300)) // a first attempt was refused: it waits for the next
  assert.equal(t.health().connection, 'connecting')
  assert.equal(t.health().ok, false)
  await bus.close({ drain: false })
  await t.close()
  await assert.rejects(bus.whenReady(), (e) => isHotpathError(e, 'E_CLOSED'))
})
