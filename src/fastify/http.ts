/**
 * HTTP helpers for a shared cache (RFC 9110/9111): Cache-Control parsing, hop-by-hop headers,
 * entity-tag lists with weak comparison, Accept-Encoding negotiation and URL normalization.
 * Pure functions: the response cache builds on them and unit tests cover them directly.
 */

/** Parsed Cache-Control directives (names lowercased; values unquoted). */
export type Directives = Map<string, string | true>

/** Parses a Cache-Control header. */
export function parseCacheControl(header: string | string[] | undefined): Directives {
  const out: Directives = new Map()
  if (header === undefined) return out
  const text = Array.isArray(header) ? header.join(',') : header
  for (const part of text.split(',')) {
    const eq = part.indexOf('=')
    const name = (eq < 0 ? part : part.slice(0, eq)).trim().toLowerCase()
    if (name === '') continue
    if (eq < 0) out.set(name, true)
    else
      out.set(
        name,
        part
          .slice(eq + 1)
          .trim()
          .replace(/^"(.*)"$/, '$1'),
      )
  }
  return out
}

/** Seconds of a directive such as max-age=60, or undefined. */
export function seconds(d: Directives, name: string): number | undefined {
  const v = d.get(name)
  if (typeof v !== 'string' || !/^\d+$/.test(v)) return undefined
  return Number(v)
}

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
])

/** Response headers a shared cache may store: no hop-by-hop, no Set-Cookie, none it computes itself. */
export function storableHeaders(headers: Record<string, unknown>): Record<string, string> {
  const listed = new Set(
    String(headers.connection ?? '')
      .split(',')
      .map((h) => h.trim().toLowerCase())
      .filter(Boolean),
  )
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(headers)) {
    const n = name.toLowerCase()
    if (value === undefined || HOP_BY_HOP.has(n) || listed.has(n)) continue
    if (
      n === 'set-cookie' ||
      n === 'content-length' ||
      n === 'content-encoding' ||
      n === 'etag' ||
      n === 'age' ||
      n === 'date'
    )
      continue
    out[n] = Array.isArray(value) ? value.join(', ') : String(value)
  }
  return out
}

/** Parses an If-None-Match / If-Match list: '*' or the opaque tags (weakness dropped for weak comparison). */
export function parseEtagList(header: string | undefined): '*' | string[] {
  if (header === undefined) return []
  if (header.trim() === '*') return '*'
  const tags: string[] = []
  for (const m of header.matchAll(/(?:W\/)?"([^"]*)"/g)) tags.push(m[1] as string)
  return tags
}

/** Weak comparison of an ETag against a parsed list (RFC 9110 13.1.2). */
export function etagMatches(list: '*' | string[], etag: string | undefined): boolean {
  if (etag === undefined) return false
  if (list === '*') return true
  const opaque = etag.replace(/^W\//, '').replace(/^"|"$/g, '')
  return list.includes(opaque)
}

/** Encodings we produce (`zstd` only where the runtime has `zlib.zstdCompressSync`, Node >= 22.15). */
export type Encoding = 'br' | 'zstd' | 'gzip' | 'identity'

/** A qvalue (RFC 9110 12.4.2): 0, 1, or 0.xxx / 1.000 with at most three decimals. */
const QVALUE = /^(?:0(?:\.\d{0,3})?|1(?:\.0{0,3})?)$/

/**
 * Picks the encoding for a request: the acceptable one with the highest q among those offered
 * (in `offered` order on ties), identity when nothing else is acceptable. `q=0` excludes; a
 * member whose q is not a valid qvalue (`br;q=-1`, `gzip;q=abc`, `q=2`) is invalid and ignored
 * (RFC 9110 12.4.2), never read as q=1.
 */
export function negotiateEncoding(header: string | undefined, offered: readonly Encoding[]): Encoding {
  if (header === undefined || header === '') return 'identity'
  const q = new Map<string, number>()
  for (const part of header.split(',')) {
    const [name, ...params] = part.trim().toLowerCase().split(';')
    if (!name) continue
    let weight = 1
    for (const p of params) {
      const eq = p.indexOf('=')
      if (eq < 0 || p.slice(0, eq).trim() !== 'q') continue
      const v = p.slice(eq + 1).trim()
      weight = QVALUE.test(v) ? Number(v) : Number.NaN
    }
    if (!Number.isNaN(weight)) q.set(name.trim(), weight)
  }
  const star = q.get('*')
  let best: Encoding = 'identity'
  let bestQ = 0
  for (const enc of offered) {
    if (enc === 'identity') continue
    const w = q.get(enc) ?? (enc === 'gzip' ? q.get('x-gzip') : undefined) ?? star ?? 0
    if (w > bestQ) {
      best = enc
      bestQ = w
    }
  }
  return best
}

const UNRESERVED = /%(2[DdEe]|3[0-9]|4[1-9A-Fa-f]|5[0-9Aa]|5[Ff]|6[1-9A-Fa-f]|7[0-9Aa]|7[Ee])/g

/**
 * Normalizes a request URL into the cache key's path and query the way the router sees it:
 * percent-encodings of unreserved characters are decoded and others upper-cased (so /a%7e and /a~
 * are one key, but an encoded slash stays distinct, as the router keeps it), query parameters
 * are sorted (stable for repeated names), and the router options that make two paths one route
 * are applied: `ignoreTrailingSlash`, `ignoreDuplicateSlashes`, `caseSensitive: false` (the path
 * is lowercased) and `useSemicolonDelimiter` (`;` starts the query). `queryKeys` (when given)
 * keeps only the named parameters.
 */
export function normalizeUrl(url: string, options: UrlOptions = {}): string {
  let q = url.indexOf('?')
  if (options.useSemicolonDelimiter) {
    const semi = url.indexOf(';')
    if (semi >= 0 && (q < 0 || semi < q)) {
      url = `${url.slice(0, semi)}?${url.slice(semi + 1).replace('?', '&')}`
      q = semi
    }
  }
  let path = q < 0 ? url : url.slice(0, q)
  const query = q < 0 ? '' : url.slice(q + 1)
  path = path
    .replace(/%[0-9a-fA-F]{2}/g, (m) => m.toUpperCase())
    .replace(UNRESERVED, (m) => decodeURIComponent(m))
  if (options.ignoreDuplicateSlashes) path = path.replace(/\/{2,}/g, '/')
  if (options.ignoreTrailingSlash && path.length > 1 && path.endsWith('/')) path = path.slice(0, -1)
  if (options.caseSensitive === false) path = path.toLowerCase()
  if (query === '') return path
  const params = query
    .split('&')
    .filter((p) => p !== '')
    .map((p) => {
      const eq = p.indexOf('=')
      const k = eq < 0 ? p : p.slice(0, eq)
      return { k: safeDecode(k), raw: p }
    })
    .filter((p) => options.queryKeys === undefined || options.queryKeys.includes(p.k))
    .map((p, i) => ({ ...p, i }))
    .sort((a, b) => (a.k < b.k ? -1 : a.k > b.k ? 1 : a.i - b.i))
  return params.length === 0 ? path : `${path}?${params.map((p) => p.raw).join('&')}`
}

/** The router options that change which path a request reaches, and the key's query filter. */
export interface UrlOptions {
  ignoreTrailingSlash?: boolean
  ignoreDuplicateSlashes?: boolean
  caseSensitive?: boolean
  useSemicolonDelimiter?: boolean
  queryKeys?: readonly string[] | undefined
}

/**
 * The router options of an app that change the key: Fastify 5's `routerOptions`, falling back to
 * the deprecated top-level options of an app built with them (initialConfig holds those as plain
 * values, so reading them prints nothing).
 */
export function routerUrlOptions(initialConfig: object): UrlOptions {
  const top = initialConfig as Record<string, unknown>
  const r = (top.routerOptions as Record<string, unknown> | undefined) ?? {}
  const pick = (name: string): unknown => (r[name] !== undefined ? r[name] : top[name])
  return {
    ignoreTrailingSlash: pick('ignoreTrailingSlash') === true,
    ignoreDuplicateSlashes: pick('ignoreDuplicateSlashes') === true,
    caseSensitive: pick('caseSensitive') !== false,
    useSemicolonDelimiter: pick('useSemicolonDelimiter') === true,
  }
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '))
  } catch {
    return s
  }
}

/** Content types worth compressing. */
export function compressible(contentType: string | undefined): boolean {
  if (contentType === undefined) return false
  const t = contentType.split(';')[0]?.trim().toLowerCase() ?? ''
  return (
    t.startsWith('text/') ||
    t === 'application/json' ||
    t.endsWith('+json') ||
    t === 'application/javascript' ||
    t === 'application/xml' ||
    t.endsWith('+xml') ||
    t === 'image/svg+xml'
  )
}
