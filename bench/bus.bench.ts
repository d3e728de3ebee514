/**
 * Bus benchmarks (`npm run bench -- bus`): ours and the peers measured in the same run. Redis
 * figures run on a private redis-server on a free port (so INFO commandstats counts only this
 * bench); NATS core request and the NATS JetStream transport (bus-nats.ts) use the NATS at
 * NATS_URL (127.0.0.1:4222 by default). BUS_ONLY=nats runs only the NATS rows, BUS_ONLY=memory
 * the memory rows, BUS_ONLY=request the request-reply rows, BUS_ONLY=recovery the kill -9 row.
 * BUS_STARVE_MS sets the starvation run's length (default 5000; the figure is 30000).
 */
import { spawn } from 'node:child_process'
import { performance } from 'node:perf_hooks'
import { Redis } from 'ioredis'
import { type Bus, createBus, type Message, memoryTransport, redisTransport } from '../src/bus/index.js'
import { PrivateRedis } from '../test/helpers/services.js'
import { natsRows } from './bus-nats.js'
import {
  bullAddBulk,
  bullRequestReply,
  bullStarvation,
  bullWorker,
  natsRequestReply,
  openLoop,
  percentile,
  pQueueRate,
} from './bus-peers.js'
import { gc, report } from './lib/harness.js'
import { until } from './lib/proc.js'

const SUITE = 'bus'
const NATS_URL = process.env.NATS_URL ?? '127.0.0.1:4222'
const PRIOS = ['urgent', 'high', 'normal', 'low'] as const

/** Memory transport, send -> handler: msgs/s with one class or four. */
async function memoryRate(n: number, classes: 1 | 4): Promise<number> {
  const t = memoryTransport()
  const a = createBus({ name: 'a', transport: t, maxQueued: n + 1 })
  const b = createBus({ name: 'b', transport: t, maxQueued: n + 1 })
  let got = 0
  b.on('m', () => {
    got++
  })
  const opts = PRIOS.map((priority) => ({ priority }))
  const t0 = performance.now()
  for (let i = 0; i < n; i++) void a.send('b', 'm', i, classes === 4 ? opts[i & 3] : undefined)
  await b.drain()
  const rate = (n / (performance.now() - t0)) * 1000
  if (got !== n) throw new Error(`memory bench: ${got} of ${n} handled`)
  await a.close({ drain: false })
  await b.close({ drain: false })
  return rate
}

async function memory(): Promise<void> {
  const N = 200_000
  const ours1: number[] = []
  const ours4: number[] = []
  const pq1: number[] = []
  const pq4: number[] = []
  // each run starts from a collected heap: without it a run pays for the garbage of the one
  // before (p-queue's 200k promises, or our 200k envelopes), which moved single runs by 30%
  const ROUNDS = 7
  const measure = async (f: () => Promise<number>): Promise<number> => {
    gc()
    return f()
  }
  // p-queue's rounds first, then ours: a run right after a p-queue run was slower (its heap's
  // state outlives gc()), and which of ours followed one showed in the kept fraction (rounds
  // alternating 0.96-1.13 and 0.75-0.84 when ours shared rounds with p-queue)
  for (let r = 0; r < ROUNDS; r++) {
    pq1.push(await measure(() => pQueueRate(N, false)))
    pq4.push(await measure(() => pQueueRate(N, true)))
  }
  await measure(() => memoryRate(N, 1))
  await measure(() => memoryRate(N, 4))
  for (let r = 0; r < ROUNDS; r++) {
    // one class and four back to back, which goes first alternating: the kept fraction compares
    // runs a few hundred ms apart (single runs in one process move by more than the goal's 10%)
    if (r % 2 === 0) {
      ours1.push(await measure(() => memoryRate(N, 1)))
      ours4.push(await measure(() => memoryRate(N, 4)))
    } else {
      ours4.push(await measure(() => memoryRate(N, 4)))
      ours1.push(await measure(() => memoryRate(N, 1)))
    }
  }
  const med = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)] as number
  const kept = ours4.map((x, i) => x / (ours1[i] as number))
  report({
    suite: SUITE,
    name: 'memory send -> handler, 200k queued, 1 class',
    ours: med(ours1),
    peer: med(pq1),
    peerName: 'p-queue 9 (no priority)',
    unit: 'msgs/s',
    higherIsBetter: true,
    target: '>= 1M/s, >= 5x',
  })
  report({
    suite: SUITE,
    name: 'memory send -> handler, 200k queued, 4 classes',
    ours: med(ours4),
    peer: med(pq4),
    peerName: 'p-queue 9 (4 priorities)',
    unit: 'msgs/s',
    higherIsBetter: true,
    target: '>= 50x',
  })
  report({
    suite: SUITE,
    name: 'memory: cost of 4 classes (throughput kept)',
    ours: med(kept),
    peer: med(pq4) / med(pq1),
    peerName: 'p-queue 9',
    unit: 'fraction',
    higherIsBetter: true,
    target: '>= 0.9',
    note: `median of ${ROUNDS} paired rounds (4 classes / 1 class, run back to back); per round ${kept.map((k) => k.toFixed(2)).join(' ')}`,
  })
}

async function commandCalls(r: Redis): Promise<number> {
  const info = await r.info('commandstats')
  let calls = 0
  for (const m of info.matchAll(/calls=(\d+)/g)) calls += Number(m[1])
  return calls
}

async function redisThroughput(url: string): Promise<void> {
  const admin = new Redis(url)
  const N = 50_000
  // produce: 50 sends per turn (the transport pipelines a turn's publishes)
  const t = redisTransport({ redis: url, prefix: 'bench:p:', block: 200 })
  const producer = createBus({ name: 'producer', transport: t })
  await producer.whenReady()
  const c0 = await commandCalls(admin)
  const t0 = performance.now()
  for (let i = 0; i < N; i += 50) {
    const batch: Promise<unknown>[] = []
    for (let j = 0; j < 50; j++) batch.push(producer.send('worker', 'm', i + j))
    await Promise.all(batch)
  }
  const produce = (N / (performance.now() - t0)) * 1000
  const c1 = await commandCalls(admin)
  const bullProduce = await bullAddBulk(url, 'bench:bull', N)
  report({
    suite: SUITE,
    name: 'redis produce, 50 at a time',
    ours: produce,
    peer: bullProduce,
    peerName: 'BullMQ 6 addBulk(50)',
    unit: 'msgs/s',
    higherIsBetter: true,
    target: '>= 3x',
  })

  // consume: no-op handler, 100 in flight
  const c2 = await commandCalls(admin)
  let got = 0
  let first = 0
  const consumer = createBus({ name: 'worker', transport: t, concurrency: 100 })
  consumer.on('m', () => {
    if (first === 0) first = performance.now()
    got++
  })
  await until(() => got === N)
  const consume = (N / (performance.now() - first)) * 1000
  await consumer.close()
  await new Promise((r) => setTimeout(r, 100)) // the last acks
  const c3 = await commandCalls(admin)
  const bullConsume = await bullWorker(url, 'bench:bull', N)
  report({
    suite: SUITE,
    name: 'redis consume, no-op handler, 100 in flight',
    ours: consume,
    peer: bullConsume,
    peerName: 'BullMQ 6 Worker(concurrency 100)',
    unit: 'msgs/s',
    higherIsBetter: true,
    target: '>= 3x',
  })
  report({
    suite: SUITE,
    name: 'redis commands per message (produce + consume)',
    ours: (c1 - c0 + c3 - c2) / N,
    peer: undefined,
    peerName: undefined,
    unit: 'cmds/msg',
    higherIsBetter: false,
    target: '<= 0.1',
    note: `produce ${((c1 - c0) / N).toFixed(3)}, consume ${((c3 - c2) / N).toFixed(3)}`,
  })

  // four classes on Redis: the same consume, messages spread over the classes
  for (let i = 0; i < N; i += 50) {
    const batch: Promise<unknown>[] = []
    for (let j = 0; j < 50; j++)
      batch.push(producer.send('worker4', 'm', i + j, { priority: PRIOS[(i + j) & 3] }))
    await Promise.all(batch)
  }
  got = 0
  first = 0
  const c4 = createBus({ name: 'worker4', transport: t, concurrency: 100 })
  c4.on('m', () => {
    if (first === 0) first = performance.now()
    got++
  })
  await until(() => got === N)
  const consume4 = (N / (performance.now() - first)) * 1000
  await c4.close()
  report({
    suite: SUITE,
    name: 'redis consume: 4 classes vs 1 (throughput kept)',
    ours: consume4 / consume,
    peer: undefined,
    peerName: undefined,
    unit: 'fraction',
    higherIsBetter: true,
    target: '>= 0.9',
  })
  await producer.close()
  await t.close()
  admin.disconnect()
}

async function requestReply(url: string): Promise<void> {
  const RATE = 1000
  const MS = 3000
  const t = redisTransport({ redis: url, prefix: 'bench:rr:', block: 200 })
  const server = createBus({ name: 'svc', transport: t, concurrency: 100 })
  server.on('double', (p: { x: number }) => p.x * 2)
  const client = createBus({ name: 'client', transport: t })
  await server.whenReady()
  await client.whenReady()
  await client.request('svc', 'double', { x: 1 })
  const { lat: ours, lag } = await openLoop(RATE, MS, () =>
    client.request('svc', 'double', { x: 1 }, { timeout: 10_000 }),
  )
  const nats = await natsRequestReply(NATS_URL, RATE, MS)
  const bull = await bullRequestReply(url, 'bench:bullrr', RATE, MS)
  const p99 = (xs: number[]) => percentile(xs, 99)
  report({
    suite: SUITE,
    name: 'request-reply over Redis at 1k req/s, p99',
    ours: p99(ours),
    peer: p99(nats),
    peerName: 'NATS 2.9 core request',
    unit: 'ms',
    higherIsBetter: false,
    target: 'ours <= 3x NATS (ratio >= 0.33)',
    note: `p50 ours ${percentile(ours, 50).toFixed(2)} ms, NATS ${percentile(nats, 50).toFixed(2)} ms; the driver's own lateness in our run: p50 ${percentile(lag, 50).toFixed(2)} ms, p99 ${percentile(lag, 99).toFixed(2)} ms`,
  })
  report({
    suite: SUITE,
    name: 'request-reply over Redis at 1k req/s, p99',
    ours: p99(ours),
    peer: p99(bull),
    peerName: 'BullMQ 6 waitUntilFinished',
    unit: 'ms',
    higherIsBetter: false,
    target: '>= 10x',
    note: `p50 ours ${percentile(ours, 50).toFixed(2)} ms, BullMQ ${percentile(bull, 50).toFixed(2)} ms; ours <= BullMQ / 10 needs p99 <= ${(percentile(bull, 99) / 10).toFixed(2)} ms, NATS core's own p99 here: ${percentile(nats, 99).toFixed(2)} ms`,
  })
  await client.close()
  await server.close()
  await t.close()
}

async function batchByKey(): Promise<void> {
  const N = 100_000
  const t = memoryTransport()
  const b = createBus({ name: 'rows', transport: t, maxQueued: N + 1 })
  let invocations = 0
  let handled = 0
  b.onBatch(
    'row',
    (messages: Message[]) => {
      invocations++
      handled += messages.length
    },
    { maxSize: 50, maxWait: 100 },
  )
  for (let i = 0; i < N; i++) void b.send('rows', 'row', i, { batchKey: `k${i % 100}` })
  // a tail that only a time flush can deliver: 10 messages on 10 new keys
  await until(() => handled >= N)
  for (let i = 0; i < 10; i++) void b.send('rows', 'row', i, { batchKey: `tail${i}` })
  await until(() => handled >= N + 10)
  const s = b.stats()
  report({
    suite: SUITE,
    name: 'batch by key: 100 keys, 100k msgs, size 50 / 100 ms: handler calls',
    ours: invocations,
    peer: N + 10,
    peerName: 'per-message handler',
    unit: 'calls',
    higherIsBetter: false,
    target: '>= 20x fewer',
  })
  report({
    suite: SUITE,
    name: 'batch by key: time-flush lateness (max)',
    ours: s.maxBatchLatenessMs,
    peer: undefined,
    peerName: undefined,
    unit: 'ms',
    higherIsBetter: false,
    target: '<= 5 ms',
  })
  await b.close({ drain: false })
}

function spin(ms: number): void {
  const end = performance.now() + ms
  while (performance.now() < end) {}
}

async function starvation(url: string): Promise<void> {
  const MS = Number(process.env.BUS_STARVE_MS ?? 5000)
  const b: Bus = createBus({ name: 'sat', transport: memoryTransport(), concurrency: 1, ageAfter: '1s' })
  const counts = { urgent: 0, low: 0 }
  let stop = false
  // urgent handled are replaced at once (100% of capacity); low is always backlogged
  b.on('u', () => {
    spin(0.2)
    counts.urgent++
    if (!stop) void b.send('sat', 'u', null, { priority: 'urgent' })
  })
  b.on('l', () => {
    spin(0.2)
    counts.low++
    if (!stop) void b.send('sat', 'l', null, { priority: 'low' })
  })
  for (let i = 0; i < 50; i++) void b.send('sat', 'u', null, { priority: 'urgent' })
  for (let i = 0; i < 50; i++) void b.send('sat', 'l', null, { priority: 'low' })
  await new Promise((r) => setTimeout(r, MS))
  stop = true
  const s = b.stats()
  await b.close({ drain: false })
  const bull = await bullStarvation(url, 'bench:starve', MS)
  report({
    suite: SUITE,
    name: `starvation (${MS / 1000} s, urgent at 100%): low share of throughput`,
    ours: counts.low / (counts.low + counts.urgent),
    peer: bull.low / Math.max(1, bull.low + bull.urgent),
    peerName: `BullMQ 6 priority 1 vs 4 (low ${bull.low} of ${bull.low + bull.urgent})`,
    unit: 'fraction',
    higherIsBetter: true,
    target: '>= 1/15 = 0.067',
  })
  report({
    suite: SUITE,
    name: 'starvation: low max wait',
    ours: s.byClassMaxWaitMs.low,
    peer: undefined,
    peerName: undefined,
    unit: 'ms',
    higherIsBetter: false,
    target: '<= ageAfter (1000 ms) + one slot',
    note: `low ${counts.low}, urgent ${counts.urgent}`,
  })
}

async function recovery(url: string): Promise<void> {
  const N = 10_000
  const prefix = 'bench:crash:'
  const admin = new Redis(url)
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'test/integration/bus/crash-consumer.ts', url, prefix, 'crash', '50'],
    {
      cwd: new URL('..', import.meta.url).pathname,
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  )
  await new Promise<void>((resolve) =>
    child.stdout.on('data', (d: Buffer) => d.toString().includes('ready') && resolve()),
  )
  const t = redisTransport({ redis: url, prefix, claimIdle: 5000, block: 200 })
  const producer = createBus({ name: 'p', transport: t })
  await Promise.all(Array.from({ length: N }, (_, i) => producer.send('crash', 'job', i)))
  const effects = `${prefix}effects`
  await until(async () => (await admin.hlen(effects)) >= 500)
  child.kill('SIGKILL')
  const killedAt = performance.now()
  const before = await admin.hlen(effects)
  const survivor = createBus({ name: 'crash', transport: t, maxQueued: 20_000 })
  survivor.onBatch(
    'job',
    async (messages: Message[]) => {
      const tx = admin.multi()
      for (const m of messages) t.markProcessedIn(tx.hincrby(effects, String(m.payload), 1), m)
      await tx.exec()
    },
    { maxSize: 50, maxWait: 20, idempotent: true },
  )
  // redelivered: when the survivor received its last message (its received count last moved);
  // processed: when every side effect is there (the batches of 50 run one at a time)
  let received = 0
  let redelivered = 0
  await until(async () => {
    const r = survivor.stats().received
    if (r !== received) {
      received = r
      redelivered = performance.now() - killedAt
    }
    return (await admin.hlen(effects)) === N
  })
  const processed = performance.now() - killedAt
  const repeated = Object.values(await admin.hgetall(effects)).filter((v) => Number(v) > 1).length
  report({
    suite: SUITE,
    name: 'kill -9 with ~10k in flight: all redelivered after',
    ours: redelivered,
    peer: 30_000,
    peerName:
      'BullMQ default lockDuration 30 s (+ stalledInterval up to 30 s; documented, not measured here)',
    unit: 'ms',
    higherIsBetter: false,
    target: '<= claimIdle (5 s) + 1 s',
    note: `in flight at the kill ${N - before}, redelivered ${received}, all processed after ${Math.round(processed)} ms (batches of 50, one at a time), lost ${N - (await admin.hlen(effects))}, repeated side effects ${repeated}`,
  })
  await survivor.close()
  await producer.close()
  await t.close()
  admin.disconnect()
}

export default {
  name: 'bus: memory, Redis Streams (private redis-server), NATS JetStream vs BullMQ, p-queue, raw JetStream, NATS core request',
  async run(): Promise<void> {
    // BUS_ONLY=nats | memory | request | recovery: only those rows
    const only = process.env.BUS_ONLY
    if (only === undefined || only === 'memory') await memory()
    if (only === 'memory') return
    if (only === undefined) await batchByKey()
    const priv = await PrivateRedis.start()
    try {
      if (only === 'request') return await requestReply(priv.url)
      if (only === 'recovery') return await recovery(priv.url)
      await natsRows(NATS_URL, priv.url)
      if (only === 'nats') return
      await redisThroughput(priv.url)
      await requestReply(priv.url)
      await starvation(priv.url)
      await recovery(priv.url)
    } finally {
      await priv.stop()
    }
  },
}
