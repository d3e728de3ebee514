/**
 * Raw loopback sockets for the server's wire tests: what a socket received, whether the server
 * closed it, and keep-alive requests written by hand (so a test controls every byte and when).
 */
import assert from 'node:assert/strict'
import net from 'node:net'

/** A client socket and what happened to it. */
export interface Client {
  socket: net.Socket
  state: { data: string; closed: boolean }
  closed: Promise<void>
  connected: Promise<void>
}

/** Every socket opened here; `destroyAll()` closes them so a failing test never holds a server open. */
const opened = new Set<net.Socket>()

/** Opens a loopback socket and records what it receives and when it closes. */
export function connect(port: number): Client {
  const socket = net.connect({ port, host: '127.0.0.1' })
  opened.add(socket)
  const state = { data: '', closed: false }
  socket.setEncoding('utf8')
  socket.on('data', (d: string) => {
    state.data += d
  })
  socket.on('error', () => {})
  const closed = new Promise<void>((resolve) =>
    socket.once('close', () => {
      state.closed = true
      opened.delete(socket)
      resolve()
    }),
  )
  const connected = new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve)
    socket.once('error', reject)
  })
  return { socket, state, closed, connected }
}

/** Destroys every socket still open. */
export function destroyAll(): void {
  for (const s of opened) s.destroy()
  opened.clear()
}

/** Resolves after `ms` (pacing a client, never a measurement). */
export const tick = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/** Waits until `predicate()` holds, checking every 10 ms, at most `limitMs`; returns whether it held. */
export async function until(predicate: () => boolean, limitMs = 10_000): Promise<boolean> {
  for (let waited = 0; !predicate(); waited += 10) {
    if (waited >= limitMs) return false
    await tick(10)
  }
  return true
}

/** Resolves once a whole JSON response has arrived after `start` (or the socket closed). */
export async function response(c: Client, start: number): Promise<string> {
  const done = () => /\r\n\r\n[\s\S]*[}\]]$/.test(c.state.data.slice(start))
  await until(() => done() || c.state.closed)
  return c.state.data.slice(start)
}

/** A keep-alive `GET path` on the client's socket; asserts a 200 answer and returns it. */
export async function get(c: Client, path = '/'): Promise<string> {
  const start = c.state.data.length
  c.socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`)
  const text = await response(c, start)
  assert.match(text, /^HTTP\/1\.1 200/)
  return text
}
