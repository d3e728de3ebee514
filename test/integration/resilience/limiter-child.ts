// A second process for the exactness test: takes `count` decisions on one key and prints how many
// were allowed and how many were answered by the fail-closed path after a Redis error or timeout.
import { Redis } from 'ioredis'
import { createRateLimiter } from '../../../src/resilience/index.js'

const [url, prefix, key, limit, count, algorithm, startAt] = process.argv.slice(2) as string[] as [
  string,
  string,
  string,
  string,
  string,
  string,
  string,
]
// no silent re-send after a reconnect: a script re-sent would take a second token for one answer
const redis = new Redis(url, { enableAutoPipelining: true, autoResendUnfulfilledCommands: false })
const rl = createRateLimiter({
  redis,
  prefix,
  limit: Number(limit),
  window: '1h',
  algorithm: algorithm as 'gcra' | 'token-bucket',
  timeout: '5s',
  onRedisError: 'closed',
})
await redis.ping()
await new Promise((r) => setTimeout(r, Math.max(0, Number(startAt) - Date.now())))
let allowed = 0
for (let done = 0; done < Number(count); done += 100) {
  const decisions = await Promise.all(Array.from({ length: 100 }, () => rl.consume(key)))
  allowed += decisions.filter((d) => d.allowed).length
}
process.stdout.write(`${allowed} ${rl.stats().redisErrors}`)
redis.disconnect()
