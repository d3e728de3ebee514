/**
 * WebSocket steps (`ws: { send, replies }`): one connection per iteration, on the `ws` package,
 * loaded on first use (an optional peer dependency).
 */
import type { CompiledStep } from './compile.js'
import type { IterationContext } from './http.js'
import type { Vars } from './scenario.js'
import { newSent, type Sent } from './sent.js'

/** The `ws` package, loaded on the first WebSocket step (an optional peer dependency). */
let wsModule: Promise<typeof import('ws')> | undefined

/**
 * One WebSocket exchange: connect (the target's http(s) URL as ws(s)), send the messages, await
 * `replies` messages, close. Status 101 on upgrade; the last reply is the text checks and
 * captures read. A new connection per iteration, as a browser tab would.
 */
export function sendWs(
  ctx: IterationContext,
  step: CompiledStep,
  spec: { send: string[]; replies: number },
  vars: Vars,
): Promise<Sent> {
  const { clock } = ctx
  wsModule ??= import('ws')
  return new Promise<Sent>((resolve) => {
    const out: Sent = newSent()
    let done = false
    let socket: import('ws').WebSocket | undefined
    const finish = (error?: string): void => {
      if (done) return
      done = true
      clearTimeout(timer)
      out.end = clock.now()
      out.error = error
      socket?.terminate()
      resolve(out)
    }
    const timer = setTimeout(() => finish('ws timeout'), ctx.timeoutMs)
    wsModule?.then(
      ({ WebSocket }) => {
        const url = step.url(vars)
        url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:'
        socket = new WebSocket(url, { headers: step.headers(vars) })
        let received = 0
        socket.on('open', () => {
          out.status = 101
          out.sentAt = clock.now()
          for (const m of spec.send)
            socket?.send(m.replace(/\{\{\s*([\w.-]+)\s*\}\}/g, (_, k: string) => vars[k] ?? `{{${k}}}`))
          if (spec.replies === 0) finish()
        })
        socket.on('message', (data: Buffer) => {
          received++
          out.bytes += data.length
          out.text = String(data)
          if (received >= spec.replies) finish()
        })
        socket.on('unexpected-response', (_req, res) => {
          out.status = res.statusCode
          finish(`status ${res.statusCode}`)
        })
        socket.on('error', (err: Error & { code?: string }) => finish(err.code ?? err.name))
        socket.on('close', () =>
          finish(
            received >= spec.replies ? undefined : `ws closed after ${received} of ${spec.replies} replies`,
          ),
        )
      },
      () => finish('ws package not installed (npm install ws)'),
    )
  })
}
