/**
 * `npm start`: runs the reference server and prints its URL. A bad environment value stops it with
 * exit code 2 and a message naming the variable (no stack trace). Ctrl-C (or SIGTERM) drains
 * in-flight requests, closes keep-alive sockets as they go idle, closes the cache, the monitor and
 * Redis, and exits 0.
 */

import { buildServer } from './app.js'
import { loadConfig, type ServerConfig, unknownVariableWarnings } from './config.js'

/** Exit code of a configuration error (the README promises it). */
const CONFIG_ERROR = 2

function configurationError(message: string): never {
  console.error(`configuration error: ${message}`)
  process.exit(CONFIG_ERROR)
}

/** A listen error that is the configuration's fault, described by the variable that caused it. */
function listenError(err: unknown, config: ServerConfig): string | undefined {
  const code = (err as { code?: unknown }).code
  const where = `${config.host}:${config.port}`
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EAI_NONAME')
    return `HOST ${JSON.stringify(config.host)} does not resolve to an address (${String(code)})`
  if (code === 'EADDRNOTAVAIL')
    return `HOST ${JSON.stringify(config.host)} is not an address of this machine (${where})`
  if (code === 'EADDRINUSE') return `PORT ${config.port} is already in use (${where})`
  if (code === 'EACCES') return `PORT ${config.port} needs privileges this process does not have (${where})`
  return undefined
}

let config: ServerConfig
try {
  config = loadConfig()
} catch (err) {
  configurationError((err as Error).message)
}
for (const warning of unknownVariableWarnings()) console.error(`warning: ${warning}`)

const server = await buildServer(config)
let address: string
try {
  address = await server.app.listen({ port: config.port, host: config.host })
} catch (err) {
  const message = listenError(err, config)
  if (message === undefined) throw err
  await server.close()
  configurationError(message)
}
console.log(`hotpath agent gateway listening on ${address}`)
console.log(
  `  cache: memory${config.redisUrl ? ` + Redis (${config.redisUrl})` : ' only (set REDIS_URL to add Redis)'}`,
)
console.log(
  `  try: ${address}/api/catalog  ${address}/api/aggregate  ${address}/metrics  ${address}/api/cache/stats`,
)

// The first SIGINT/SIGTERM closes gracefully (see closeGracefully) and exits 0; a close that
// outlasts SHUTDOWN_TIMEOUT, a failing close or a second signal exits 1.
let closing = false
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (closing) {
      console.error(`${signal} again: forcing exit`)
      process.exit(1)
    }
    closing = true
    console.log(`\n${signal}: draining in-flight requests...`)
    const force = setTimeout(() => {
      console.error(
        `shutdown took longer than SHUTDOWN_TIMEOUT (${config.shutdownTimeoutMs} ms): forcing exit`,
      )
      process.exit(1)
    }, config.shutdownTimeoutMs)
    force.unref()
    server
      .close((step) => console.log(`  ${step}`))
      .then(
        () => process.exit(0),
        (err: unknown) => {
          console.error(`shutdown failed: ${(err as Error).message}`)
          process.exit(1)
        },
      )
  })
}
