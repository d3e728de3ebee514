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

/** An empty outcome (one shape for every request). */
export function newSent(): Sent {
  return {
    status: undefined,
    headers: {},
    text: undefined,
    bytes: 0,
    sentAt: undefined,
    end: 0,
    error: undefined,
  }
}
