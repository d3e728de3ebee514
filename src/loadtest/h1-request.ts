/**
 * Request bytes for the `net` client, written as undici writes them: request line, `host`, the
 * step's headers, `content-length` when there is a body (or the method expects one), the body.
 * A request with no templates is encoded once at compile time.
 */

/**
 * Headers that change framing or connection handling: a step that sets one goes through undici,
 * which validates or implements them.
 */
const UNDICI_ONLY = new Set([
  'host',
  'content-length',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'upgrade',
  'expect',
  'te',
  'trailer',
])

/** Methods undici sends `content-length: 0` for when there is no body. */
const EXPECTS_BODY = new Set(['POST', 'PUT', 'PATCH'])

/** Characters that would split a request (undici refuses them: `UND_ERR_INVALID_ARG`). */
const UNSAFE = /[\r\n\0]/

/** Can the `net` client send a step with these header names? */
export function netHeadersOk(names: readonly string[]): boolean {
  return names.every((n) => !UNDICI_ONLY.has(n.toLowerCase()))
}

/**
 * The request as one string (UTF-8 on the wire), or undefined when a header value or the path
 * holds a character that would split the request.
 */
export function encodeRequest(
  method: string,
  path: string,
  host: string,
  headers: Record<string, string> | undefined,
  body: string | undefined,
): string | undefined {
  if (UNSAFE.test(path)) return undefined
  let head = `${method} ${path} HTTP/1.1\r\nhost: ${host}\r\n`
  if (headers !== undefined) {
    for (const name in headers) {
      const value = headers[name] as string
      if (UNSAFE.test(value)) return undefined
      head += `${name}: ${value}\r\n`
    }
  }
  if (body !== undefined) return `${head}content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
  return EXPECTS_BODY.has(method) ? `${head}content-length: 0\r\n\r\n` : `${head}\r\n`
}
