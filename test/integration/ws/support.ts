/** A ws server on a free loopback port and clients that collect every message they decode. */
import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import { WebSocket, WebSocketServer } from 'ws'
import { decodeFrame } from '../../../src/ws/client.js'

/** A server whose next connection is handed to the test. */
export async function serve(): Promise<{ wss: WebSocketServer; url: string; close(): Promise<void> }> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false })
  await once(wss, 'listening')
  const url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`
  return {
    wss,
    url,
    async close() {
      for (const c of wss.clients) c.terminate()
      await new Promise<void>((resolve) => wss.close(() => resolve()))
    },
  }
}

/** A client and the server side of its connection (connect one at a time: the next connection is taken). */
export async function connect(
  server: { wss: WebSocketServer; url: string },
  unpack?: (b: Uint8Array) => unknown,
): Promise<{
  client: WebSocket
  socket: WebSocket
  received: unknown[]
  frames: number[]
  closed: Promise<number>
}> {
  const accepted = once(server.wss, 'connection') as Promise<[WebSocket]>
  const client = new WebSocket(server.url, { perMessageDeflate: false })
  const received: unknown[] = []
  const frames: number[] = []
  client.on('message', (data, isBinary) => {
    const msgs = decodeFrame(data as Buffer, unpack === undefined ? {} : { unpack }, isBinary)
    frames.push(msgs.length)
    received.push(...msgs)
  })
  const closed = new Promise<number>((resolve) => client.on('close', (code) => resolve(code)))
  await once(client, 'open')
  const [socket] = await accepted
  return { client, socket, received, frames, closed }
}

/** Resolves when `check()` holds (polling every 5 ms), rejects after `ms`. */
export async function until(check: () => boolean, ms = 10_000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 5))
  }
}

/** Pauses the client's TCP socket: the client stops reading. */
export function stopReading(client: WebSocket): { resume(): void } {
  return (client as unknown as { _socket: { pause(): void; resume(): void } })._socket
}

/**
 * Writes plain frames (a decodable array of `{ fill }` messages) on the server side of a client
 * that stopped reading, until the kernel's buffers are full and ws buffers at least `atLeast`.
 */
export function fillKernel(socket: WebSocket, atLeast = 1): void {
  const filler = JSON.stringify([{ fill: 'z'.repeat(256 * 1024) }])
  for (let i = 0; i < 200 && socket.bufferedAmount < atLeast; i++) socket.send(filler)
  if (socket.bufferedAmount < atLeast) throw new Error('the kernel took everything: no backpressure to test')
}

/** The messages that are not `fillKernel()`'s. */
export const notFill = (messages: unknown[]): unknown[] =>
  messages.filter((m) => typeof m !== 'object' || m === null || !('fill' in m))
