/**
 * `npm start`: runs the reference server and prints its URL. Ctrl-C (or SIGTERM) drains
 * in-flight requests and closes Redis before exiting.
 */

import { buildServer } from './app.js'
import { loadConfig } from './config.js'

let config: ReturnType<typeof loadConfig>
try {
  config = loadConfig()
} catch (err) {
  console.error(`configuration error: ${(err as Error).message}`)
  process.exit(2)
}
const server = await buildServer(config)
const address = await server.app.listen({ port: config.port, host: config.host })
console.log(`hotpath agent gateway listening on ${address}`)
console.log(
  `  cache: memory${config.redisUrl ? ` + Redis (${config.redisUrl})` : ' only (set REDIS_URL to add Redis)'}`,
)
console.log(
  `  try: ${address}/api/catalog  ${address}/api/aggregate  ${address}/metrics  ${address}/api/cache/stats`,
)

let closing = false
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (closing) return
    closing = true
    console.log(`\n${signal}: draining in-flight requests...`)
    const force = setTimeout(() => process.exit(1), 10_000)
    force.unref()
    server.close().then(
      () => process.exit(0),
      () => process.exit(1),
    )
  })
}
