/** What one request (an HTTP request or a WebSocket exchange) came back with. */

/** The outcome of one request, filled in as it goes. */
export interface Sent {
  status: number | undefined
  headers: Record<string, unknown>
  text: string | undefined
  bytes: number
  /** When the request was written to a socket (undefined if it never was). */
  sentAt: number | undefined
  end: number
  error: string | undefined
}

/** The headers of an outcome nobody reads (no check or capture needs them): shared, frozen. */
const NO_HEADERS: Record<string, unknown> = Object.freeze({})

/** An empty outcome (one shape for every request). */
export function newSent(): Sent {
  return {
    status: undefined,
    headers: NO_HEADERS,
    text: undefined,
    bytes: 0,
    sentAt: undefined,
    end: 0,
    error: undefined,
  }
}

/**
 * llhttp's reason for a malformed response, as an `HPE_*` code: undici 7 raises
 * `HTTPParserError` without its code (its constants lookup misses), and the `net` client reports
 * the same cases by code, so both clients count a bad response under one kind.
 */
const PARSER_REASONS: ReadonlyArray<readonly [RegExp, string]> = [
  [/status/i, 'HPE_INVALID_STATUS'],
  [/Content-Length/, 'HPE_INVALID_CONTENT_LENGTH'],
  [/chunk/i, 'HPE_INVALID_CHUNK_SIZE'],
  [/header/i, 'HPE_INVALID_HEADER_TOKEN'],
  [/version|Expected|start line|response line/i, 'HPE_INVALID_CONSTANT'],
]

/** The error kind of a failed request: its code, or its name (`HTTPParserError` by reason). */
export function errorKind(error: unknown): string {
  const e = error as { code?: string; name?: string; message?: string }
  if (e.code !== undefined) return e.code
  if (e.name === 'HTTPParserError') {
    const reason = /\(([^)]*)\)\s*$/.exec(e.message ?? '')?.[1] ?? ''
    for (const [re, code] of PARSER_REASONS) if (re.test(reason)) return code
  }
  return e.name ?? 'error'
}
