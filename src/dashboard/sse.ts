/**
 * Server-Sent Events to the pages: one serialized string per tick written to every client, a
 * comment heartbeat so proxies keep the stream open, and a bound on what a slow client may have
 * buffered (past it the client is dropped; EventSource reconnects and replays from its last id).
 */
import type { ServerResponse } from 'node:http'

/** Bytes a client may have waiting in its socket, past its first chunk, before it is dropped. */
export const MAX_BUFFERED = 4 * 1024 * 1024

/** The pages connected to one dashboard. */
export class SseHub {
  /**
   * Each client and what it may have waiting: MAX_BUFFERED past its first chunk (the history, which
   * may be larger than MAX_BUFFERED by itself: a page still reading it is not behind; dropped, it
   * reconnected without an event id, got the whole history again, and never got through). Once
   * a client has taken all but MAX_BUFFERED of it, MAX_BUFFERED is its bound.
   */
  private readonly clients = new Map<ServerResponse, number>()

  constructor(readonly maxClients: number) {}

  /** Clients connected. */
  get size(): number {
    return this.clients.size
  }

  /**
   * Starts an event stream on `res`; false when the hub is full (the caller answers 503). A page
   * already gone (its connection closed while the request was being authorized) gets nothing and
   * takes no slot: its 'close' came before we could listen for it, so it would never give it back.
   */
  open(res: ServerResponse, first: string): boolean {
    if (res.destroyed) return true
    if (this.clients.size >= this.maxClients) return false
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      // no connection header of ours: Node says keep-alive to HTTP/1.1 clients and close to
      // HTTP/1.0 ones, whose body (no length, no chunks) ends only when the connection does
      // nginx and friends buffer responses unless told not to
      'x-accel-buffering': 'no',
    })
    res.write(first)
    this.clients.set(res, MAX_BUFFERED + Buffer.byteLength(first))
    const drop = () => this.clients.delete(res)
    res.once('close', drop)
    res.once('error', drop)
    return true
  }

  /** Writes one event to every client. */
  send(event: string, data: string, id?: number): void {
    if (this.clients.size === 0) return
    this.write(format(event, data, id))
  }

  /** A comment line that keeps idle connections open through proxies. */
  heartbeat(): void {
    if (this.clients.size > 0) this.write(': ping\n\n')
  }

  private write(chunk: string): void {
    for (const [res, limit] of this.clients) {
      const waiting = res.writableLength
      if (waiting > limit) {
        this.clients.delete(res)
        res.destroy()
        continue
      }
      if (limit > MAX_BUFFERED && waiting <= MAX_BUFFERED) this.clients.set(res, MAX_BUFFERED)
      res.write(chunk)
    }
  }

  /** Ends every stream. */
  close(): void {
    for (const res of this.clients.keys()) res.end()
    this.clients.clear()
  }
}

/** One SSE event (data is one line: JSON never contains a raw newline). */
export function format(event: string, data: string, id?: number): string {
  return `${id === undefined ? '' : `id: ${id}\n`}event: ${event}\ndata: ${data}\n\n`
}
