/**
 * Regressions found by an outside audit of the dashboard: what another process on the share
 * channel can do to this one (Redis pub/sub is not a trust boundary the dashboard may ignore),
 * how the routes answer odd requests, and what a slow page may cost.
 */
import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { Redis } from 'ioredis'
import { createDashboard, type Dashboard, type Frame } from '../../../src/dashboard/index.js'
import { createMonitor, type Monitor } from '../../../src/metrics/index.js'
import { REDIS_URL, uniquePrefix } from '../../helpers/services.js'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const closers: Array<() => Promise<unknown> | unknown> = []
after(async () => {
  for (const c of closers.reverse()) await c()
})

/**
 * A dashboard sharing on a channel of its own, and a plain Redis client to publish on it as a
 * hostile (or broken) instance would. The interval is long: only the test's own tick() calls run.
 */
async function shared(
  panels: Parameters<typeof createDashboard>[0]['panels'] = [],
): Promise<{ d: Dashboard; monitor: Monitor; publish(m: unknown): Promise<void>; own: Frame }> {
  const channel = `${uniquePrefix('dashboard-audit')}share`
  const monitor = createMonitor({ enabled: false, env: {}, recommendations: { builtIn: false } })
  const d = createDashboard({
    monitor,
    instance: 'me',
    interval: '10s',
    window: '10m',
    panels,
    share: { redis: REDIS_URL, channel },
  })
  await d.ready()
  const pub = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 })
  pub.on('error', () => {})
  closers.push(async () => {
    await d.close()
    monitor.close()
    pub.disconnect()
  })
  const own = (await d.tick())?.frames[0] as Frame
  return {
    d,
    monitor,
    own,
    async publish(m) {
      await pub.publish(channel, typeof m === 'string' ? m : JSON.stringify(m))
      // a round trip on the same connection: the subscriber has the message once PING answers
      await pub.ping()
      await sleep(20)
    },
  }
}

/** A frame as another instance would publish it (a copy of ours under its name). */
function frameOf(own: Frame, instance: string): Frame {
  return { ...(JSON.parse(JSON.stringify(own)) as Frame), instance }
}

describe('aggregate', () => {
  it('panel series named like Object.prototype members add up as numbers', async () => {
    const { d, own, publish } = await shared([
      { id: 'odd', title: 'Odd names', sample: () => ({ constructor: 1, toString: 2, valueOf: 3 }) },
    ])
    await d.tick()
    await publish({ type: 'frame', instance: 'other', data: frameOf(own, 'other') })
    const tick = await d.tick()
    const all = tick?.frames.find((f) => f.instance === '*')
    assert.ok(all !== undefined)
    const series = all.panels.odd as Record<string, unknown>
    // ours (1, 2, 3) plus other's copy of our first frame (the same series)
    assert.deepEqual({ ...series }, { constructor: 2, toString: 4, valueOf: 6 })
  })
})
