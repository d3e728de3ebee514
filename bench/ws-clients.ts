/**
 * The WebSocket bench's clients, in their own process (so their CPU is not the server's): opens
 * connections on request, decodes every frame (hotpath's array frames and plain per-message
 * frames alike), counts frames and messages, and records each message's latency from the send
 * timestamp `t` it carries (performance.timeOrigin + performance.now(), one clock per machine).
 * Driven over IPC by bench/ws.bench.ts.
 */
import type { Socket } from 'node:net'
import { performance } from 'node:perf_hooks'
import { WebSocket } from 'ws'

interface Msg {
  t?: number
  u?: number
  p?: number
  k?: string
  v?: number
}

const now = (): number => performance.timeOrigin + performance.now()
/** The TCP socket under a ws client (ws keeps it in `_socket`). */
const tcp = (c: WebSocket): Socket => (c as unknown as { _socket: Socket })._socket
let clients: WebSocket[] = []
let frames = 0
let messages = 0
/** Latency samples (ms): ours and, in a paired run, the peer's (`p: 1`, urgent `u: 2`). */
const KINDS = ['normal', 'peerNormal', 'urgent', 'urgentHandled', 'peerUrgent', 'peerUrgentHandled'] as const
let samples = fresh()
let last = new Map<string, number>()
let maxPerFrame = 0
/** When the TCP chunk being parsed reached this process (ws parses a chunk synchronously). */
let arrivedAt = 0

function onChunk(): void {
  arrivedAt = now()
}

function onMessage(data: Buffer): void {
  frames++
  const value = JSON.parse(data.toString()) as Msg | Msg[]
  const handledAt = now()
  const list = Array.isArray(value) ? value : [value]
  if (list.length > maxPerFrame) maxPerFrame = list.length
  for (const m of list) {
    messages++
    if (m.t !== undefined) {
      if (m.u === 1) {
        samples.urgent.push(arrivedAt - m.t)
        samples.urgentHandled.push(handledAt - m.t)
      } else if (m.u === 2) {
        samples.peerUrgent.push(arrivedAt - m.t)
        samples.peerUrgentHandled.push(handledAt - m.t)
      } else (m.p === 1 ? samples.peerNormal : samples.normal).push(arrivedAt - m.t)
    }
    if (m.k !== undefined && m.v !== undefined) last.set(m.k, m.v)
  }
}

function fresh(): Record<(typeof KINDS)[number], number[]> {
  return { normal: [], peerNormal: [], urgent: [], urgentHandled: [], peerUrgent: [], peerUrgentHandled: [] }
}

function pct(xs: number[], p: number): number {
  if (xs.length === 0) return Number.NaN
  const s = Float64Array.from(xs).sort()
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] as number
}

function summary(xs: number[]): { p50: number; p99: number; n: number } {
  return { p50: pct(xs, 50), p99: pct(xs, 99), n: xs.length }
}

const send = (m: object): void => {
  process.send?.(m)
}

process.on(
  'message',
  async (cmd: { type: string; url?: string; count?: number; total?: number; ms?: number }) => {
    switch (cmd.type) {
      case 'open': {
        const opened = await Promise.all(
          Array.from({ length: cmd.count ?? 1 }, () => {
            const c = new WebSocket(cmd.url as string, { perMessageDeflate: false })
            c.on('message', onMessage)
            c.on('error', () => {})
            return new Promise<WebSocket>((resolve) =>
              c.once('open', () => {
                // before ws's own listener, so the time is taken before any frame is parsed
                tcp(c).prependListener('data', onChunk)
                resolve(c)
              }),
            )
          }),
        )
        clients.push(...opened)
        send({ type: 'opened' })
        break
      }
      case 'reset':
        frames = 0
        messages = 0
        samples = fresh()
        last = new Map()
        maxPerFrame = 0
        send({ type: 'reset' })
        break
      case 'pause':
        for (const c of clients) tcp(c).pause()
        send({ type: 'paused' })
        break
      case 'resume':
        for (const c of clients) tcp(c).resume()
        send({ type: 'resumed' })
        break
      case 'collect': {
        const end = Date.now() + (cmd.ms ?? 30_000)
        while (messages < (cmd.total ?? 0) && Date.now() < end) await new Promise((r) => setTimeout(r, 1))
        send({
          type: 'collected',
          doneAt: now(),
          frames,
          messages,
          maxPerFrame,
          ...Object.fromEntries(KINDS.map((k) => [k, summary(samples[k])])),
          last: [...last],
        })
        break
      }
      case 'close':
        for (const c of clients) c.terminate()
        clients = []
        send({ type: 'closed' })
        break
      case 'exit':
        process.exit(0)
    }
  },
)
send({ type: 'ready' })
