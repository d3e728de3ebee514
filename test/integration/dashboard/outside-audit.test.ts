/**
 * Regressions found by a second outside audit of the dashboard: streams of pages that went away
 * before their stream opened, what instances that left (or never joined) the shared view leave
 * behind, and options that were taken without a word.
 */
import assert from 'node:assert/strict'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, describe, it } from 'node:test'
import Fastify, { type FastifyInstance } from 'fastify'
import { createDashboard, dashboardPlugin } from '../../../src/dashboard/index.js'
import { createMonitor } from '../../../src/metrics/index.js'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const closers: Array<() => Promise<unknown> | unknown> = []
after(async () => {
  for (const c of closers.reverse()) await c()
})

describe('stream slots', () => {
  it('regression: a page that went away while protect() was deciding kept its stream slot forever (503 for everyone after maxClients of them)', async () => {
    const monitor = createMonitor({ enabled: false, env: {}, recommendations: { builtIn: false } })
    const dashboard = createDashboard({ monitor, interval: '100ms', window: '10s', maxClients: 2 })
    const app: FastifyInstance = Fastify()
    // a protect that takes a while (a session store, say)
    await app.register(dashboardPlugin, {
      dashboard,
      protect: async () => {
        await sleep(150)
        return true
      },
    })
    await app.listen({ port: 0, host: '127.0.0.1' })
    closers.push(async () => {
      await app.close()
      monitor.close()
    })
    const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}/dashboard/stream`
    for (let i = 0; i < 2; i++) {
      const req = http.get(url)
      req.on('error', () => {})
      setTimeout(() => req.destroy(), 30)
    }
    await sleep(500)
    assert.equal(dashboard.clients, 0, 'streams held for pages that are gone')
    const r = await fetch(url)
    assert.equal(r.status, 200, 'a page opening now gets its stream')
    await r.body?.cancel()
  })
})
