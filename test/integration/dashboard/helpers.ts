/** Shared pieces of the dashboard's integration tests: an app with both plugins, an SSE reader. */
import http from 'node:http'
import Fastify, { type FastifyInstance } from 'fastify'
import {
  createDashboard,
  type Dashboard,
  type DashboardOptions,
  type DashboardPluginOptions,
  dashboardPlugin,
} from '../../../src/dashboard/index.js'
import hotpath from '../../../src/fastify/index.js'
import { createMonitor, type Monitor } from '../../../src/metrics/index.js'

export const TOKEN = 'dashboard-token-0123456789'

/** An app with the hotpath plugin (request metrics) and the dashboard under /dashboard. */
export async function buildApp(
  o: {
    dashboard?: Partial<DashboardOptions>
    plugin?: Partial<DashboardPluginOptions>
    monitor?: Monitor
  } = {},
): Promise<{ app: FastifyInstance; monitor: Monitor; dashboard: Dashboard }> {
  const monitor = o.monitor ?? createMonitor({ enabled: false, env: {}, recommendations: { builtIn: false } })
  const dashboard = createDashboard({ monitor, interval: '100ms', window: '10s', ...o.dashboard })
  const app = Fastify()
  await app.register(hotpath, { monitor })
  await app.register(dashboardPlugin, { dashboard, token: TOKEN, ...o.plugin })
  app.get('/hello', async () => ({ hello: 'world' }))
  app.get('/boom', async (_r, reply) => reply.code(500).send({ error: 'boom' }))
  await app.ready()
  app.addHook('onClose', async () => monitor.close())
  return { app, monitor, dashboard }
}

/** One SSE event. */
export interface SseEvent {
  event: string
  data: string
  id: string | undefined
}

/** Opens an event stream on a real socket and collects its events. */
export function openStream(
  url: string,
  headers: Record<string, string> = {},
): Promise<{
  status: number
  headers: http.IncomingHttpHeaders
  events: SseEvent[]
  next(event: string, accept?: (e: SseEvent) => boolean, timeoutMs?: number): Promise<SseEvent>
  close(): void
  ended: Promise<void>
}> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers }, (res) => {
      const events: SseEvent[] = []
      const waiters: Array<() => void> = []
      let buf = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => {
        buf += chunk
        let at = buf.indexOf('\n\n')
        while (at >= 0) {
          const block = buf.slice(0, at)
          buf = buf.slice(at + 2)
          let event = 'message'
          let data = ''
          let id: string | undefined
          for (const line of block.split('\n')) {
            if (line.startsWith('event: ')) event = line.slice(7)
            else if (line.startsWith('data: ')) data += line.slice(6)
            else if (line.startsWith('id: ')) id = line.slice(4)
          }
          if (!block.startsWith(':')) events.push({ event, data, id })
          for (const w of waiters.splice(0)) w()
          at = buf.indexOf('\n\n')
        }
      })
      const ended = new Promise<void>((r) => res.once('close', () => r()))
      let seen = 0
      resolve({
        status: res.statusCode ?? 0,
        headers: res.headers,
        events,
        ended,
        close: () => req.destroy(),
        next(event, accept = () => true, timeoutMs = 10_000) {
          return new Promise((ok, fail) => {
            const timer = setTimeout(
              () => fail(new Error(`no ${event} event within ${timeoutMs}ms`)),
              timeoutMs,
            )
            const look = () => {
              while (seen < events.length) {
                const e = events[seen++] as SseEvent
                if (e.event === event && accept(e)) {
                  clearTimeout(timer)
                  return ok(e)
                }
              }
              waiters.push(look)
            }
            look()
          })
        },
      })
    })
    req.on('error', reject)
  })
}
