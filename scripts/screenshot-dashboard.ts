/**
 * Takes the README's screenshot: the reference server's dashboard while it is under load.
 *   node --import tsx scripts/screenshot-dashboard.ts [out.png]
 * Starts the server in this process on a free loopback port (embedded defaults), drives its
 * cached and uncached routes, the agents and the live socket with autocannon for 20 s, and
 * screenshots /dashboard in Debian's headless Chromium (playwright-core; nothing beyond loopback).
 */
import autocannon from 'autocannon'
import { chromium } from 'playwright-core'
import { buildServer } from '../src/server/app.js'
import { loadConfig } from '../src/server/config.js'

const out = process.argv[2] ?? 'docs/images/reference-server-dashboard.png'
const server = await buildServer(loadConfig({ BACKEND_LATENCY_MS: '20' }))
const base = await server.app.listen({ port: 0, host: '127.0.0.1' })
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
  ],
})
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1100 } })
  await page.route('**/*', (route) =>
    route.request().url().startsWith(base) ? route.continue() : route.abort(),
  )
  await page.goto(`${base}/dashboard`)
  const restocks = setInterval(() => {
    void server.app.inject({
      method: 'POST',
      url: '/api/agents/restock',
      headers: { authorization: 'Bearer token-alice' },
      payload: { id: 1 + Math.floor(Math.random() * 200), amount: 1, priority: 'normal' },
    })
  }, 50)
  let i = 0
  await autocannon({
    url: base,
    connections: 20,
    duration: 20,
    requests: [
      {
        setupRequest: (req) => {
          const n = i++ % 10
          const id = 1 + (i % 200)
          const path =
            n < 5
              ? '/api/catalog'
              : n < 8
                ? `/api/catalog/${id}`
                : n < 9
                  ? `/api/agents/quote/${id}`
                  : '/api/limited'
          return { ...req, path }
        },
      },
    ],
  })
  clearInterval(restocks)
  await page.screenshot({ path: out, fullPage: false })
  console.log(`wrote ${out}`)
} finally {
  await browser.close()
  await server.close()
}
