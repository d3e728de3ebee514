/**
 * Scenario steps compiled once before the load: templates (`{{var}}`) to functions, checks,
 * captures, and a request built once when nothing in it depends on the vars.
 */
import { toMs } from '../time.js'
import { encodeRequest, netHeadersOk } from './h1-request.js'
import type { StepSpec, Vars } from './scenario.js'

/** A step ready to run. */
export interface CompiledStep {
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
  /**
   * The `net` client may send this step (plain HTTP/1.1 to the target, no framing headers):
   * `bytes` is the whole request when it is fixed, otherwise it is encoded per request.
   */
  net: { bytes: Buffer | undefined } | undefined
}

/**
 * Compiles scenario steps against the base URL (a single GET of `base` when there are none);
 * with `net`, steps the `net` client can send are marked for it.
 */
export function compileSteps(steps: readonly StepSpec[] | undefined, base: URL, net = false): CompiledStep[] {
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
    const method = (step.method ?? 'GET').toUpperCase()
    let netForm: CompiledStep['net']
    if (net && step.ws === undefined && netHeadersOk(headerTemplates.map(([k]) => k))) {
      if (fixed === undefined) netForm = { bytes: undefined }
      else if (fixed.origin === base.origin) {
        const text = encodeRequest(method, fixed.path, base.host, fixed.headers, fixed.body)
        if (text !== undefined) netForm = { bytes: Buffer.from(text) }
      }
    }
    return {
      method,
      net: netForm,
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

/** `'a {{x}} b'` to a function of the vars; unknown names are left as written. */
export function template(text: string): (vars: Vars) => string {
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
