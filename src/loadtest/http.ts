/**
 * HTTP iterations over undici: one Agent (keep-alive, `connections` per origin, optional
 * pipelining, HTTP/2 offered by ALPN on TLS) and the per-iteration function the models call.
 * Every request ends in one `stats.record()`.
 */
import { Agent } from 'undici'
import type { Clock } from '../time.js'
import { sleep } from './clock.js'
import type { CompiledStep } from './compile.js'
import type { NetPool } from './h1-client.js'
import { encodeRequest } from './h1-request.js'
import type { Vars } from './scenario.js'
import { errorKind, newSent, type Sent } from './sent.js'
import type { Stats } from './stats.js'
import { sendWs } from './ws-step.js'

/** Connection settings of the generator. */
export interface HttpSettings {
  connections: number
  pipelining: number
  timeoutMs: number
  http2: boolean
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

/** What an iteration needs. */
export interface IterationContext {
  agent: Agent
  /** The `net` client for plain HTTP/1.1 to the target (steps marked `net` go through it). */
  pool: NetPool | undefined
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
  // One fixed step with no think time: the step's own promise is the iteration's (no async frame).
  const bare = single !== undefined && !usesVars && single.thinkMs === 0 ? single : undefined
  if (bare !== undefined)
    return (intended) => runStep(ctx, bare, none, intended) as Promise<unknown> as Promise<void>
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
  const queued = ctx.clock.now()
  const res = step.ws === undefined ? await send(ctx, step, vars) : await sendWs(ctx, step, step.ws, vars)
  return finishStep(ctx.stats, step, vars, intended ?? queued, queued, res)
}

/** One iteration that calls `done` when it has been recorded (no promise). */
export type DirectIteration = (intended: number | undefined, done: () => void) => void

/**
 * The iteration without promises, when there is one: a single fixed step (no templates, captures
 * or think time) that the `net` client sends as prebuilt bytes. Its outcome is recorded from the
 * connection's own callback and `done` follows at once, so the closed loop's next request is
 * written in the same turn with no promise and no microtask in between.
 */
export function createDirectIteration(ctx: IterationContext): DirectIteration | undefined {
  const { pool, steps, stats, clock } = ctx
  const step = steps.length === 1 ? steps[0] : undefined
  const bytes = step?.net?.bytes
  if (pool === undefined || step === undefined || bytes === undefined) return undefined
  if (step.usesVars || step.ws !== undefined || step.thinkMs > 0) return undefined
  const none: Vars = Object.freeze({}) as Vars
  const { method, needsBody } = step
  return (intended, done) => {
    const queued = clock.now()
    pool.send(bytes, method, needsBody, (res) => {
      // as the promise path: a throw here is a bug, never a reason to stop the caller's loop
      try {
        finishStep(stats, step, none, intended ?? queued, queued, res)
      } catch {}
      done()
    })
  }
}

/** Checks and captures on one step's outcome, then its `stats.record()`; false when it failed. */
function finishStep(
  stats: Stats,
  step: CompiledStep,
  vars: Vars,
  from: number,
  queued: number,
  res: Sent,
): boolean {
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

/**
 * The dispatch handler of one request: a class, so every request shares one hidden class and the
 * prototype's methods (no closures per request). No response stream, no header parsing unless
 * a check or capture reads the response, and the time the request reached the socket.
 */
class SendHandler {
  readonly out: Sent = newSent()
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
    if (error !== undefined) out.error = errorKind(error)
    else if (this.chunks !== undefined) out.text = Buffer.concat(this.chunks).toString('utf8')
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

/**
 * One request: through the `net` client when the step allows it and the request goes to the
 * target, otherwise through `agent.dispatch` (a fixed request is not rebuilt on either path).
 */
function send(ctx: IterationContext, step: CompiledStep, vars: Vars): Promise<Sent> {
  const pool = ctx.pool
  if (pool !== undefined && step.net !== undefined) {
    const bytes = step.net.bytes ?? netBytes(pool, step, vars)
    if (bytes !== undefined) return pool.request(bytes, step.method, step.needsBody)
  }
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

/**
 * A templated request for the `net` client; undefined when it goes elsewhere than the target or
 * holds characters undici refuses (undici then sends it, or reports `UND_ERR_INVALID_ARG`).
 */
function netBytes(pool: NetPool, step: CompiledStep, vars: Vars): string | undefined {
  const url = step.url(vars)
  if (url.origin !== pool.origin) return undefined
  const headers = step.headers(vars)
  return encodeRequest(step.method, url.pathname + url.search, url.host, headers, step.body?.(vars))
}
