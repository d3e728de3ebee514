/**
 * Helpers of the Fastify tests that go through real sockets: a GET over a fresh connection, a
 * monitor whose Prometheus text they read, and polling until a condition holds.
 */
import http from 'node:http'
import { createMonitor, type Monitor } from '../../src/metrics/index.js'

/** A response read whole. */
export interface Got {
  status: number
  headers: http.IncomingHttpHeaders
  /** Header names and values as sent, in order (names as the server wrote them). */
  rawHeaders: string[]
  body: Buffer
}

/** GET `path` from 127.0.0.1:`port` on a connection of its own. */
export function httpGet(port: number, path: string, headers: Record<string, string> = {}): Promise<Got> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          rawHeaders: res.rawHeaders,
          body: Buffer.concat(chunks),
        }),
      )
    })
    req.on('error', reject)
  })
}

/** A monitor that collects nothing on its own (the tests read what requests put in it). */
export function quietMonitor(): Monitor {
  return createMonitor({ enabled: false, env: {}, onWarning: () => {} })
}

/** The value of the first exposition line starting with `name` (0 when there is none). */
export async function series(monitor: Monitor, name: string): Promise<number> {
  const text = await monitor.registry.metrics()
  const line = text.split('\n').find((l) => l.startsWith(name))
  return line === undefined ? 0 : Number(line.split(' ').pop())
}

/** Polls `cond` every 10 ms, up to 2 s. */
export async function until(cond: () => boolean | Promise<boolean>): Promise<void> {
  for (let i = 0; i < 200 && !(await cond()); i++) await new Promise((r) => setTimeout(r, 10))
}

/** A route that holds every request until `release()`; `entered()` counts the requests it holds. */
export function gatedRoute(
  app: { get(path: string, handler: () => Promise<unknown>): unknown },
  path: string,
): { entered(): number; release(): void } {
  let entered = 0
  let release!: () => void
  const gate = new Promise<void>((r) => {
    release = r
  })
  app.get(path, async () => {
    entered++
    await gate
    return { ok: true }
  })
  return { entered: () => entered, release: () => release() }
}
