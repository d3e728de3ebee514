/** Options the dashboard and its plugin took without a word (second outside audit). */
import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import Fastify from 'fastify'
import { createDashboard, dashboardPlugin } from '../../../src/dashboard/index.js'
import { resolveDashboardOptions } from '../../../src/dashboard/options.js'
import hotpath from '../../../src/fastify/index.js'
import { createMonitor } from '../../../src/metrics/index.js'
import { systemClock } from '../../../src/time.js'

const monitor = createMonitor({ enabled: false, env: {}, recommendations: { builtIn: false } })
const dashboard = createDashboard({ monitor, interval: '10s', window: '1m' })
after(async () => {
  await dashboard.close()
  monitor.close()
})

async function mount(options: Record<string, unknown>): Promise<void> {
  const app = Fastify()
  try {
    await app.register(dashboardPlugin, { dashboard, public: true, closeWithApp: false, ...options }).ready()
  } finally {
    await app.close()
  }
}

describe('options refused with a clear error', () => {
  it('regression: a clock without now() failed with "now is not a function" rather than naming the option', () => {
    assert.throws(
      () => resolveDashboardOptions({ monitor, clock: {} as never }),
      (err: Error) => err instanceof TypeError && /^clock must implement now\(\)/.test(err.message),
    )
  })

  it('regression: a clock whose now() is a method (it reads this) made createDashboard throw', async () => {
    class Clock {
      private readonly t = 1_000_000
      now() {
        return this.t
      }
      setTimeout = systemClock.setTimeout
      setBackgroundTimeout = systemClock.setBackgroundTimeout
      clearTimeout = systemClock.clearTimeout
    }
    const d = createDashboard({ monitor, interval: '10s', window: '1m', clock: new Clock() })
    try {
      assert.equal((await d.tick())?.t, 1_000_000)
    } finally {
      await d.close()
    }
  })

  it("regression: dashboardPlugin took closeWithApp of any type ('no' closed the dashboard) and a prefix that is not a plain path (quotes went into the page unescaped, :name made a route parameter)", async () => {
    await assert.rejects(mount({ closeWithApp: 'no' }), /closeWithApp must be a boolean; received "no"/)
    for (const prefix of ['/dash"><b>x</b>', '/:tenant', '/a b', '/dash*']) {
      await assert.rejects(mount({ prefix }), /prefix must be a path like '\/dashboard'/, prefix)
    }
    // plain paths still mount
    for (const prefix of ['/', '/dashboard', '/_ops/dash-board.v2']) await mount({ prefix })
  })

  it("regression: an endpoint path that is not a path (endpoints.paths.metrics: 'metrics' or 123) failed with Fastify's 'The first character of a path should be / or *', naming no option", async () => {
    for (const metrics of ['metrics', 123, '']) {
      const m = createMonitor({ enabled: false, env: {}, recommendations: { builtIn: false } })
      const app = Fastify()
      try {
        await assert.rejects(
          async () =>
            app.register(hotpath, { monitor: m, endpoints: { paths: { metrics } } } as never).ready(),
          (err: Error) =>
            err instanceof TypeError &&
            /^endpoints\.paths\.metrics must be a path starting with '\/' or false/.test(err.message),
          String(metrics),
        )
      } finally {
        await app.close()
        m.close()
      }
    }
  })
})
