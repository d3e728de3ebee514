/**
 * WebSocket benchmarks: hotpath/ws batching against plain `ws.send` per message, both measured
 * in this same run on the same server (this process) and the same clients (a child process,
 * bench/ws-clients.ts). Figures follow issue 14's proof list; see bench/README.md.
 */
import type { WebSocket } from 'ws'
import { createEventLoopSampler } from '../src/metrics/index.js'
import { batched, resolveBatchedOptions, wsCounters } from '../src/ws/index.js'
import { gc, report } from './lib/harness.js'
import { closedLoop, median, ms, openLoop, ours, percentile, plain, Rig } from './ws-driver.js'
import { latency, urgent } from './ws-latency.js'

const SUITE = 'ws'
const CLIENTS = 10
/** W1 + W3: messages/s to 10 clients and server CPU per 1,000 messages, closed loop. */
async function throughput(rig: Rig, sockets: WebSocket[]): Promise<number> {
  const total = 200_000
  const rates: Record<string, number[]> = { ws: [], ours: [] }
  const cpu: Record<string, number[]> = { ws: [], ours: [] }
  for (let round = 0; round < 5; round++) {
    for (const mode of round % 2 === 0 ? ['ws', 'ours'] : ['ours', 'ws']) {
      await rig.reset()
      gc()
      const senders = mode === 'ws' ? plain(sockets) : ours(sockets, { name: 'bench-throughput' })
      const done = rig.collect(total)
      const t0 = performance.timeOrigin + performance.now()
      const c0 = process.cpuUsage()
      await closedLoop(senders, total)
      const r = await done
      const c = process.cpuUsage(c0)
      rates[mode]?.push((r.messages / (r.doneAt - t0)) * 1000)
      cpu[mode]?.push(((c.user + c.system) / 1000 / r.messages) * 1000)
    }
  }
  const wsRate = median(rates.ws as number[])
  report({
    suite: SUITE,
    name: `msgs/s to ${CLIENTS} clients, default settings (closed loop, 200k msgs, median of 5)`,
    ours: median(rates.ours as number[]),
    peer: wsRate,
    peerName: 'ws.send',
    unit: 'msgs/s',
    higherIsBetter: true,
    target: '>= 3x',
  })
  report({
    suite: SUITE,
    name: 'server CPU per 1,000 messages',
    ours: median(cpu.ours as number[]),
    peer: median(cpu.ws as number[]),
    peerName: 'ws.send',
    unit: 'ms',
    higherIsBetter: false,
    target: '>= 3x (<= 1/3)',
  })
  return wsRate
}

function memoryMb(): { rss: number; heap: number } {
  gc()
  const m = process.memoryUsage()
  return { rss: m.rss / 2 ** 20, heap: m.heapUsed / 2 ** 20 }
}

/** W5: a client that stops reading while 400,000 messages (~100 B) are sent to it. */
async function slowClient(rig: Rig): Promise<void> {
  const total = 400_000
  const pad = 'x'.repeat(40)
  const run = async (mode: 'ours' | 'ws' | 'ours-unkeyed' | 'warm-up') => {
    const [socket] = await rig.open(1)
    const s = socket as WebSocket
    await rig.ask({ type: 'pause' }, 'paused')
    const b = mode === 'ws' ? undefined : batched(s, { name: `bench-slow-${mode}` })
    const before = memoryMb()
    let maxBuffered = 0
    let refused = 0
    for (let i = 0; i < total; ) {
      for (let j = 0; j < 1000; j++, i++) {
        const m = { k: `agent:${i % 1000}`, v: i, pad }
        if (b === undefined) s.send(JSON.stringify(m))
        else if (!b.send(m, mode === 'ours-unkeyed' ? undefined : { key: m.k })) refused++
      }
      maxBuffered = Math.max(maxBuffered, b === undefined ? s.bufferedAmount : b.bufferedBytes)
      await new Promise((r) => setImmediate(r))
    }
    const after = memoryMb()
    // what the kernel took (loopback socket buffers) before the client's stall showed up here
    const written = b === undefined ? Number.NaN : b.stats().messages
    await rig.closeAll()
    return { maxBuffered, grown: after.rss - before.rss, heap: after.heap - before.heap, refused, written }
  }
  // V8 grows its heap under this allocation rate and touches its pages over the next runs (RSS
  // it keeps after a GC, heapTotal unchanged): two unmeasured runs first, so the figures show
  // what a stalled client retains, not V8's sizing; heapUsed growth is reported next to RSS
  await run('warm-up')
  await run('ours-unkeyed')
  // RSS after a GC moves by +-2 MB between identical runs (V8 giving back or touching pages,
  // malloc arenas): the keyed run is measured five times, the median and range reported
  const keyed = []
  for (let i = 0; i < 5; i++) keyed.push(await run('ours'))
  const o = keyed.sort((a, b) => a.grown - b.grown)[2] as Awaited<ReturnType<typeof run>>
  const rss = keyed.map((k) => k.grown)
  const u = await run('ours-unkeyed')
  const w = await run('ws')
  report({
    suite: SUITE,
    name: 'stalled client, 400k msgs (1,000 keys): max server-side buffered bytes',
    ours: o.maxBuffered,
    peer: w.maxBuffered,
    peerName: 'ws.send',
    unit: 'bytes',
    higherIsBetter: false,
    target: '<= 1 MiB cap',
  })
  report({
    suite: SUITE,
    name: 'stalled client, 400k msgs (1,000 keys): heap growth',
    ours: o.heap,
    peer: w.heap,
    peerName: 'ws.send',
    unit: 'MB',
    higherIsBetter: false,
    note: `${o.written} msgs were written before the stall showed (the kernel's loopback buffers took them)`,
  })
  report({
    suite: SUITE,
    name: 'stalled client, 400k msgs (1,000 keys): RSS growth (after two warm-up runs, median of 5)',
    ours: o.grown,
    peer: undefined,
    peerName: undefined,
    unit: 'MB',
    higherIsBetter: false,
    target: '<= 2 MB',
    note: `runs ${rss.map((g) => g.toFixed(2)).join('/')} MB; heap ${keyed.map((k) => k.heap.toFixed(2)).join('/')} MB; ws.send: +${w.grown.toFixed(1)} MB; unkeyed traffic: closed with 1008 at the cap, max buffered ${u.maxBuffered} B, RSS ${u.grown.toFixed(1)} MB, ${u.refused} sends refused after the close`,
  })
}

/** W6: 50 keys updated at 10,000/s: messages per flush and the last value of every key. */
async function conflation(rig: Rig): Promise<void> {
  for (const [label, options] of [
    ['default settings', {}],
    ["window '100ms', maxBatch 50", { window: '100ms', maxBatch: 50 }],
  ] as const) {
    const [socket] = await rig.open(1)
    await rig.reset()
    const b = batched(socket as WebSocket, { ...options, name: `bench-conflate-${label}` })
    let seed = 1
    const last = new Map<string, number>()
    const sent = await openLoop(
      [
        (m) => {
          const k = (m as { k: string }).k
          last.set(k, (m as { v: number }).v)
          b.send(m, { key: k })
        },
      ],
      {
        rate: 10_000,
        seconds: 2,
        body: (i) => {
          seed = (seed * 1103515245 + 12345) % 2 ** 31
          return { k: `k${seed % 50}`, v: i }
        },
      },
    )
    await new Promise((r) => setTimeout(r, 300))
    const r = await rig.collect(0)
    const got = new Map(r.last)
    const allLast = [...last].every(([k, v]) => got.get(k) === v)
    report({
      suite: SUITE,
      name: `conflation, 50 keys at 10,000 updates/s (${label}): max messages per frame`,
      ours: r.maxPerFrame,
      peer: undefined,
      peerName: undefined,
      unit: 'msgs',
      higherIsBetter: false,
      target: '<= 50, last value of every key delivered',
      note: `${r.messages} delivered of ${sent} sent in ${r.frames} frames; last value of every key delivered: ${allLast ? 'yes' : 'NO'}`,
    })
    await rig.closeAll()
  }
}

/** W7: idle heap per connection, the batcher's against ws's own. */
async function idle(rig: Rig): Promise<void> {
  const n = 1000
  gc()
  const h0 = process.memoryUsage().heapUsed
  const sockets = await rig.open(n)
  gc()
  const h1 = process.memoryUsage().heapUsed
  const options = resolveBatchedOptions({ name: 'bench-idle' })
  const batchers = sockets.map((s) => batched(s, options))
  gc()
  const h2 = process.memoryUsage().heapUsed
  report({
    suite: SUITE,
    name: `idle heap per connection (${n} connections): the batcher's own`,
    ours: (h2 - h1) / n,
    peer: (h1 - h0) / n,
    peerName: "ws's own per connection",
    unit: 'bytes',
    higherIsBetter: false,
    target: '<= 1 KB',
    note: `${batchers.length} batchers`,
  })
  await rig.closeAll()
}

/** W8: twice the load that saturates per-message ws, offered open loop. */
async function overload(rig: Rig, sockets: WebSocket[], saturation: number): Promise<void> {
  const rate = Math.round((2 * saturation) / sockets.length)
  const run = async (mode: 'ws' | 'ours') => {
    await rig.reset()
    const sampler = createEventLoopSampler()
    const delays: number[] = []
    const off = sampler.onDelay((d) => delays.push(d))
    const release = sampler.retain()
    const name = `bench-overload-${mode}`
    const senders = mode === 'ws' ? plain(sockets) : ours(sockets, { name })
    const total = await openLoop(senders, { rate, seconds: 3 })
    release()
    off()
    const r = await rig.collect(total, 60_000)
    const c = wsCounters(undefined, name).stats()
    return { p99: percentile(delays, 99), total, r, dropped: c.dropped, closed: c.closedForBackpressure }
  }
  const w = await run('ws')
  const o = await run('ours')
  report({
    suite: SUITE,
    name: `event-loop p99 delay at 2x ws saturation (${rate} msgs/s per connection offered)`,
    ours: ms(o.p99),
    peer: ms(w.p99),
    peerName: 'ws.send',
    unit: 'ms',
    higherIsBetter: false,
    target: '<= 50 ms, nothing dropped',
    note: `ours sent ${o.total}, delivered ${o.r.messages}, dropped ${o.dropped}, closed ${o.closed}; ws sent ${w.total}, delivered ${w.r.messages}`,
  })
}

/** WS_FIGURES=throughput,latency,... runs a subset (all by default). */
const only = new Set((process.env.WS_FIGURES ?? '').split(',').filter(Boolean))
const wanted = (figure: string): boolean => only.size === 0 || only.has(figure)

export default {
  name: 'ws (hotpath/ws vs plain ws.send, clients in a child process)',
  async run() {
    const rig = await Rig.start()
    try {
      const sockets = await rig.open(CLIENTS)
      const saturation =
        wanted('throughput') || wanted('overload') ? await throughput(rig, sockets) : Number.NaN
      if (wanted('latency')) await latency(rig, sockets)
      if (wanted('urgent')) await urgent(rig, sockets)
      if (wanted('overload')) await overload(rig, sockets, saturation)
      await rig.closeAll()
      if (wanted('slow')) await slowClient(rig)
      if (wanted('conflation')) await conflation(rig)
      if (wanted('idle')) await idle(rig)
    } finally {
      await rig.stop()
    }
  },
}
