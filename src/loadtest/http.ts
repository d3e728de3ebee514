/**
 * HTTP iterations over undici: one Agent (keep-alive, `connections` per origin, optional
 * pipelining, HTTP/2 offered by ALPN on TLS), steps compiled once (templates, checks, captures),
 * and the per-iteration function the models call. Every request ends in one `stats.record()`.
 */
import { Agent } from 'undici'
import type { Clock } from '../time.js'
import { toMs } from '../time.js'
import { sleep } from './clock.js'
import type { StepSpec, Vars } from './scenario.js'
import type { Stats } from './stats.js'

/** Connection settings of the generator. */
export interface HttpSettings {
  connections: number
  pipelining: number
  timeoutMs: number
  http2: boolean
}

/** A step ready to run. */
interface CompiledStep {
  method: string
  url: (vars: Vars) => URL
  headers: (vars: Vars) => Record<string, string>
  body: ((vars: Vars) => string) | undefined
  statuses: readonly number[] | undefined
  contains: string | undefined
  captures: Array<{
    name: string
    read: (text: string, headers: Record<string, unknown>) => string | undefined
  }>
  needsBody: boolean
  thinkMs: number
  weight: number
  /** The scenario gave this step a weight (the iteration is a weighted pick). */
  weighted: boolean
  /** A WebSocket step: messages to send and replies to await. */
  ws: { send: string[]; replies: number } | undefined
  /**
   * The request when nothing in it depends on the vars (no templates, no functions): built once,
   * so the hot path makes no URL, header object or body per request.
   */
  fixed:
    | { origin: string; path: string; headers: Record<string, string> | undefined; body: string | undefined }
    | undefined
  /** Templates, functions or captures read or write the vars. */
  usesVars: boolean
}

/** Creates the Agent every request goes through. */
export function createAgent(s: HttpSettings): Agent {
  return new Agent({
    connections: s.connections,
    pipelining: s.pipelining,
    allowH2: s.http2,
    headersTimeout: s.timeoutMs,
    bodyTimeout: s.timeoutMs,
    connect: { timeout: s.timeoutMs },
  })
}

/** Compiles scenario steps against the base URL (a single GET of `base` when there are none). */
export function compileSteps(steps: readonly StepSpec[] | undefined, base: URL): CompiledStep[] {
  const list = steps === undefined || steps.length === 0 ? [{}] : steps
  return list.map((step): CompiledStep => {
    const path = step.path
    const pathOf = typeof path === 'function' ? path : template(path ?? '')
    const headerTemplates = Object.entries(step.headers ?? {}).map(
      ([k, v]) => [k.toLowerCase(), template(v)] as const,
    )
    const body = step.body
    let bodyOf: ((vars: Vars) => string) | undefined
    let contentType: string | undefined
    // Does anything in the request read the vars?
    const templated =
      typeof path === 'function' ||
      typeof body === 'function' ||
      [
        path,
        ...Object.values(step.headers ?? {}),
        typeof body === 'string' ? body : JSON.stringify(body),
      ].some((t) => typeof t === 'string' && t.includes('{{'))
    if (typeof body === 'function') {
      bodyOf = (vars) => {
        const b = body(vars)
        return typeof b === 'string' ? b : JSON.stringify(b)
      }
    } else if (typeof body === 'string') bodyOf = template(body)
    else if (body !== undefined) {
      bodyOf = template(JSON.stringify(body))
      contentType = 'application/json'
    }
    const statuses = step.check?.status === undefined ? undefined : [step.check.status].flat()
    const captures = Object.entries(step.capture ?? {}).map(([name, source]) => ({
      name,
      read: capture(source),
    }))
    const url = (vars: Vars): URL => new URL(pathOf(vars), base)
    const headers = (vars: Vars): Record<string, string> => {
      const h: Record<string, string> = {}
      if (contentType !== undefined) h['content-type'] = contentType
      for (const [k, v] of headerTemplates) h[k] = v(vars)
      return h
    }
    let fixed: CompiledStep['fixed']
    if (!templated) {
      const u = url({})
      const h = headers({})
      fixed = {
        origin: u.origin,
        path: u.pathname + u.search,
        headers: Object.keys(h).length === 0 ? undefined : h,
        body: bodyOf?.({}),
      }
    }
    return {
      method: (step.method ?? 'GET').toUpperCase(),
      url,
      headers,
      fixed,
      usesVars: templated || captures.length > 0,
      body: bodyOf,
      statuses,
      contains: step.check?.contains,
      captures,
      needsBody: step.check?.contains !== undefined || captures.length > 0,
      thinkMs: step.think === undefined ? 0 : toMs(step.think, 'think'),
      weight: step.weight ?? 1,
      weighted: step.weight !== undefined,
      ws:
        step.ws === undefined
          ? undefined
          : {
              send: [step.ws.send ?? []].flat(),
              replies: step.ws.replies ?? [step.ws.send ?? []].flat().length,
            },
    }
  })
}

/** What an iteration needs. */
export interface IterationContext {
  agent: Agent
  steps: CompiledStep[]
  stats: Stats
  clock: Clock
  /** Ends think times early (a stop); requests in flight are cancelled by destroying the agent. */
  signal: AbortSignal
  /** Per-request timeout (WebSocket exchanges; HTTP timeouts live in the agent). */
  timeoutMs: number
}

/**
 * The iteration: all steps in order (captures carried along), or, when any step has a weight,
 * one step picked by weight. The first request's latency counts from `intended`.
 */
export function createIteration(
  ctx: IterationContext,
): (intended: number, iteration: number, vu?: number) => Promise<void> {
  const { steps } = ctx
  const weighted = steps.some((s) => s.weighted)
  const total = steps.reduce((sum, s) => sum + s.weight, 0)
  const pick = (): CompiledStep => {
    let r = Math.random() * total
    for (const s of steps) {
      r -= s.weight
      if (r < 0) return s
    }
    return steps[steps.length - 1] as CompiledStep
  }
  const single = steps.length === 1 ? steps[0] : undefined
  const usesVars = steps.some((s) => s.usesVars || s.ws !== undefined)
  const none: Vars = Object.freeze({}) as Vars
  return async (intended, iteration, vu = 0) => {
    const vars: Vars = usesVars ? { iteration: String(iteration), vu: String(vu) } : none
    if (single !== undefined || weighted) {
      const step = single ?? pick()
      await runStep(ctx, step, vars, intended)
      if (step.thinkMs > 0) await sleep(ctx.clock, step.thinkMs, ctx.signal)
      return
    }
    let first = true
    for (const step of steps) {
      const ok = await runStep(ctx, step, vars, first ? intended : undefined)
      first = false
      if (!ok) return
      if (step.thinkMs > 0) await sleep(ctx.clock, step.thinkMs, ctx.signal)
    }
  }
}

async function runStep(
  ctx: IterationContext,
  step: CompiledStep,
  vars: Vars,
  intended: number | undefined,
): Promise<boolean> {
  const { clock, stats } = ctx
  const queued = clock.now()
  const from = intended ?? queued
  const res = step.ws === undefined ? await send(ctx, step, vars) : await sendWs(ctx, step, step.ws, vars)
  let error = res.error
  const status = res.status
  if (error === undefined && res.text !== undefined) {
    const text = res.text
    if (step.contains !== undefined && !text.includes(step.contains))
      error = `check: body lacks ${JSON.stringify(step.contains)}`
    for (const c of step.captures) {
      const value = c.read(text, res.headers)
      if (value === undefined) error ??= `capture ${c.name}: not found`
      else vars[c.name] = value
    }
  }
  if (
    error === undefined &&
    status !== undefined &&
    (step.statuses === undefined ? status >= 400 : !step.statuses.includes(status))
  )
    error = `status ${status}`
  // "Uncorrected" counts from the write to the socket, as wrk2's does: a request waiting in the
  // generator for a free connection is not yet sent.
  stats.record({
    intended: from,
    start: res.sentAt ?? queued,
    end: res.end,
    ok: error === undefined,
    status,
    error,
    bytes: res.bytes,
  })
  return error === undefined
}

interface Sent {
  status: number | undefined
  headers: Record<string, unknown>
  text: string | undefined
  bytes: number
  /** When the request was written to a socket (undefined if it never was). */
  sentAt: number | undefined
  end: number
  error: string | undefined
}

/**
 * The dispatch handler of one request: a class, so every request shares one hidden class and the
 * prototype's methods (no closures per request). No response stream, no header parsing unless
 * a check or capture reads the response, and the time the request reached the socket.
 */
class SendHandler {
  readonly out: Sent = {
    status: undefined,
    headers: {},
    text: undefined,
    bytes: 0,
    sentAt: undefined,
    end: 0,
    error: undefined,
  }
  private readonly chunks: Buffer[] | undefined

  constructor(
    private readonly clock: Clock,
    needsBody: boolean,
    private readonly resolve: (out: Sent) => void,
  ) {
    this.chunks = needsBody ? [] : undefined
  }

  finish(error?: unknown): void {
    const out = this.out
    out.end = this.clock.now()
    if (error !== undefined) {
      const e = error as { code?: string; name?: string }
      out.error = e.code ?? e.name ?? 'error'
    } else if (this.chunks !== undefined) out.text = Buffer.concat(this.chunks).toString('utf8')
    this.resolve(out)
  }

  onRequestStart(): void {
    this.out.sentAt = this.clock.now()
  }

  onResponseStart(_controller: unknown, statusCode: number, headers: Record<string, unknown>): void {
    this.out.status = statusCode
    if (this.chunks !== undefined) this.out.headers = headers
  }

  onResponseData(_controller: unknown, chunk: Buffer): void {
    this.out.bytes += chunk.length
    this.chunks?.push(chunk)
  }

  onResponseEnd(): void {
    this.finish()
  }

  onResponseError(_controller: unknown, err: Error): void {
    this.finish(err)
  }
}

/** One request through `agent.dispatch` (a fixed request is not rebuilt). */
function send(ctx: IterationContext, step: CompiledStep, vars: Vars): Promise<Sent> {
  return new Promise<Sent>((resolve) => {
    const handler = new SendHandler(ctx.clock, step.needsBody, resolve)
    try {
      const fixed = step.fixed
      if (fixed !== undefined) {
        ctx.agent.dispatch(
          {
            origin: fixed.origin,
            path: fixed.path,
            method: step.method as 'GET',
            headers: fixed.headers,
            body: fixed.body,
          },
          handler,
        )
      } else {
        const url = step.url(vars)
        ctx.agent.dispatch(
          {
            origin: url.origin,
            path: url.pathname + url.search,
            method: step.method as 'GET',
            headers: step.headers(vars),
            body: step.body?.(vars),
          },
          handler,
        )
      }
    } catch (err) {
      handler.finish(err)
    }
  })
}

/** The `ws` package, loaded on the first WebSocket step (an optional peer dependency). */
let wsModule: Promise<typeof import('ws')> | undefined

/**
 * One WebSocket exchange: connect (the target's http(s) URL as ws(s)), send the messages, await
 * `replies` messages, close. Status 101 on upgrade; the last reply is the text checks and
 * captures read. A new connection per iteration, as a browser tab would.
 */
function sendWs(
  ctx: IterationContext,
  step: CompiledStep,
  spec: { send: string[]; replies: number },
  vars: Vars,
): Promise<Sent> {
  const { clock } = ctx
  wsModule ??= import('ws')
  return new Promise<Sent>((resolve) => {
    const out: Sent = {
      status: undefined,
      headers: {},
      text: undefined,
      bytes: 0,
      sentAt: undefined,
      end: 0,
      error: undefined,
    }
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

/** `'a {{x}} b'` to a function of the vars; unknown names are left as written. */
function template(text: string): (vars: Vars) => string {
  if (!text.includes('{{')) return () => text
  const parts = text.split(/\{\{\s*([\w.-]+)\s*\}\}/)
  return (vars) => {
    let out = ''
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i] as string
      out += i % 2 === 0 ? part : (vars[part] ?? `{{${part}}}`)
    }
    return out
  }
}

function capture(source: string): (text: string, headers: Record<string, unknown>) => string | undefined {
  const colon = source.indexOf(':')
  const kind = source.slice(0, colon)
  const expr = source.slice(colon + 1)
  if (kind === 'header') {
    const name = expr.toLowerCase()
    return (_, headers) => {
      const v = headers[name]
      return v === undefined ? undefined : String(v)
    }
  }
  if (kind === 'regex') {
    const re = new RegExp(expr)
    return (text) => {
      const m = re.exec(text)
      return m === null ? undefined : (m[1] ?? m[0])
    }
  }
  const path = expr.split('.').filter((p) => p !== '' && p !== '$')
  return (text) => {
    let v: unknown
    try {
      v = JSON.parse(text)
    } catch {
      return undefined
    }
    for (const key of path) {
      if (v === null || typeof v !== 'object') return undefined
      v = (v as Record<string, unknown>)[key]
    }
    return v === undefined || v === null ? undefined : typeof v === 'object' ? JSON.stringify(v) : String(v)
  }
}
