/**
 * The WebSocket bench's clients, in their own process (so their CPU is not the server's): opens
 * connections on request, decodes every frame (hotpath's array frames and plain per-message
 * frames alike), counts frames and messages, and records each message's latency from the send
 * timestamp `t` it carries (performance.timeOrigin + performance.now(), one clock per machine).
 * Driven over IPC by bench/ws.bench.ts.
 */
import { performance } from 'node:perf_hooks'
import { WebSocket } from 'ws'

interface Msg {
  t?: number
  u?: number
  k?: string
  v?: number
}

const now = (): number => performance.timeOrigin + performance.now()
let clients: WebSocket[] = []
let frames = 0
let messages = 0
let normal: number[] = []
let urgent: number[] = []
let last = new Map<string, number>()
let maxPerFrame = 0

function onMessage(data: Buffer): void {
  const at = now()
  frames++
  const value = JSON.parse(data.toString()) as Msg | Msg[]
  const list = Array.isArray(value) ? value : [value]
  if (list.length > maxPerFrame) maxPerFrame = list.length
  for (const m of list) {
    messages++
    if (m.t !== undefined) (m.u === 1 ? urgent : normal).push(at - m.t)
    if (m.k !== undefined && m.v !== undefined) last.set(m.k, m.v)
  }
}

function pct(xs: number[], p: number): number {
  if (xs.length === 0) return Number.NaN
  const s = Float64Array.from(xs).sort()
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] as number
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
            return new Promise<WebSocket>((resolve) => c.once('open', () => resolve(c)))
          }),
        )
        clients.push(...opened)
        send({ type: 'opened' })
        break
      }
      case 'reset':
        frames = 0
        messages = 0
        normal = []
        urgent = []
        last = new Map()
        maxPerFrame = 0
        send({ type: 'reset' })
        break
      case 'pause':
        for (const c of clients) (c as unknown as { _socket: { pause(): void } })._socket.pause()
        send({ type: 'paused' })
        break
      case 'resume':
        for (const c of clients) (c as unknown as { _socket: { resume(): void } })._socket.resume()
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
          normal: { p50: pct(normal, 50), p99: pct(normal, 99), n: normal.length },
          urgent: { p50: pct(urgent, 50), p99: pct(urgent, 99), n: urgent.length },
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
