/**
 * The NATS JetStream transport's rows of `npm run bench -- bus`, on the NATS at NATS_URL
 * (127.0.0.1:4222 by default), each stream unique to the run and deleted after: consuming with a
 * no-op handler and 100 in flight against a raw JetStream pull consumer acking each message (the
 * floor any JetStream consumer stands on) and BullMQ's Worker on the bench's Redis; request-reply
 * at 1k req/s against NATS core request.
 */
import { performance } from 'node:perf_hooks'
import { AckPolicy, connect } from 'nats'
import { createBus, natsTransport } from '../src/bus/index.js'
import { bullAddBulk, bullWorker, natsRequestReply, openLoop, percentile } from './bus-peers.js'
import { report } from './lib/harness.js'
import { until } from './lib/proc.js'

const SUITE = 'bus'
const N = 20_000

async function dropStreams(servers: string, prefix: string): Promise<void> {
  const nc = await connect({ servers })
  const jsm = await nc.jetstreamManager()
  for await (const name of jsm.streams.names()) {
    if (name.startsWith(prefix) || name.startsWith(`KV_${prefix}`)) await jsm.streams.delete(name)
  }
  await nc.close()
}

/** Ours: the transport, a bus with concurrency 100 and a no-op handler, N messages queued first. */
async function oursConsume(servers: string, stream: string): Promise<number> {
  const t = natsTransport({ servers, stream })
  const producer = createBus({ name: 'producer', transport: t })
  for (let i = 0; i < N; i += 100) {
    await Promise.all(Array.from({ length: 100 }, (_, j) => producer.send('worker', 'm', i + j)))
  }
  let got = 0
  let first = 0
  const consumer = createBus({ name: 'worker', transport: t, concurrency: 100 })
  consumer.on('m', () => {
    if (first === 0) first = performance.now()
    got++
  })
  await until(() => got === N)
  const rate = (N / (performance.now() - first)) * 1000
  await consumer.close()
  await producer.close()
  await t.close()
  return rate
}

/** The peer: nats v2 `consume()` on a durable pull consumer, `m.ack()` per message. */
async function rawConsume(servers: string, stream: string): Promise<number> {
  const nc = await connect({ servers })
  const jsm = await nc.jetstreamManager()
  await jsm.streams.add({ name: stream, subjects: [`${stream}.>`] })
  const js = nc.jetstream()
  const data = new TextEncoder().encode(JSON.stringify({ id: 'x', type: 'm', payload: 1 }))
  for (let i = 0; i < N; i += 100) {
    await Promise.all(Array.from({ length: 100 }, () => js.publish(`${stream}.m`, data)))
  }
  await jsm.consumers.add(stream, {
    durable_name: 'raw',
    ack_policy: AckPolicy.Explicit,
    max_ack_pending: 1000,
  })
  const c = await js.consumers.get(stream, 'raw')
  let got = 0
  let first = 0
  const messages = await c.consume({
    max_messages: 256,
    callback: (m) => {
      if (first === 0) first = performance.now()
      JSON.parse(m.string())
      m.ack()
      got++
    },
  })
  await until(() => got === N)
  const rate = (N / (performance.now() - first)) * 1000
  messages.stop()
  await nc.close()
  return rate
}

/** Consume throughput and request-reply p99 of the NATS transport, beside its peers. */
export async function natsRows(servers: string, redisUrl: string): Promise<void> {
  const prefix = `bench_bus_${process.pid}`
  try {
    const ours: number[] = []
    const raw: number[] = []
    for (let r = 0; r < 3; r++) {
      ours.push(await oursConsume(servers, `${prefix}_o${r}`))
      raw.push(await rawConsume(servers, `${prefix}_r${r}`))
    }
    const med = (xs: number[]) => [...xs].sort((x, y) => x - y)[1] as number
    report({
      suite: SUITE,
      name: 'nats consume, no-op handler, 100 in flight (20k queued)',
      ours: med(ours),
      peer: med(raw),
      peerName: 'nats 2 raw JetStream consume + ack each',
      unit: 'msgs/s',
      higherIsBetter: true,
      target: 'close to the raw floor',
      note: `rounds ours ${ours.map((x) => x.toFixed(0)).join('/')}, raw ${raw.map((x) => x.toFixed(0)).join('/')}`,
    })
    await bullAddBulk(redisUrl, 'bench:bullnats', N)
    const bull = await bullWorker(redisUrl, 'bench:bullnats', N)
    report({
      suite: SUITE,
      name: 'nats consume, no-op handler, 100 in flight (20k queued)',
      ours: med(ours),
      peer: bull,
      peerName: 'BullMQ 6 Worker(concurrency 100), private Redis',
      unit: 'msgs/s',
      higherIsBetter: true,
    })

    const t = natsTransport({ servers, stream: `${prefix}_rr` })
    const server = createBus({ name: 'svc', transport: t, concurrency: 100 })
    server.on('double', (p: { x: number }) => p.x * 2)
    const client = createBus({ name: 'client', transport: t })
    await server.whenReady()
    await client.whenReady()
    await client.request('svc', 'double', { x: 1 })
    const { lat: rr } = await openLoop(1000, 3000, () =>
      client.request('svc', 'double', { x: 1 }, { timeout: 10_000 }),
    )
    const core = await natsRequestReply(servers, 1000, 3000)
    report({
      suite: SUITE,
      name: 'request-reply over NATS JetStream at 1k req/s, p99',
      ours: percentile(rr, 99),
      peer: percentile(core, 99),
      peerName: 'NATS 2.9 core request',
      unit: 'ms',
      higherIsBetter: false,
      note: `p50 ours ${percentile(rr, 50).toFixed(2)} ms, core ${percentile(core, 50).toFixed(2)} ms`,
    })
    await client.close()
    await server.close()
    await t.close()
  } finally {
    await dropStreams(servers, prefix)
  }
}
