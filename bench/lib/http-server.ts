/**
 * Servers for the Fastify benchmarks, one mode per process (so each is measured alone):
 *   plain     Fastify returning a precomputed JSON body (no plugin at all)
 *   hotpath   the same body behind the hotpath response cache (plus a miss route)
 *   compress  @fastify/compress (br) on the same body
 *   gateway   the reference server (PGlite catalogue with BACKEND_LATENCY_MS=40 per database call)
 * The second argument picks the body: `small` (~1.7 KB, the case) or `large` (~18 KB).
 * Prints its port on stdout; listens on 127.0.0.1 only.
 */
import compress from '@fastify/compress'
import Fastify from 'fastify'
import hotpath from '../../src/fastify/index.js'
import { buildServer } from '../../src/server/app.js'
import { loadConfig } from '../../src/server/config.js'

const mode = process.argv[2] ?? 'plain'
const size = process.argv[3] ?? 'small'
const items = Array.from({ length: size === 'large' ? 200 : 17 }, (_, i) => ({
  id: i,
  name: `Product ${i}`,
  price: i * 1.5,
  tags: ['a', 'b'],
  description: 'lorem ipsum dolor sit amet',
}))
const body = JSON.stringify({ items })

async function main(): Promise<string> {
  if (mode === 'gateway') {
    const s = await buildServer(loadConfig({ BACKEND_LATENCY_MS: '40' }))
    return s.app.listen({ port: 0, host: '127.0.0.1' })
  }
  const app = Fastify({ logger: false })
  if (mode === 'hotpath') {
    await app.register(hotpath, { responseCache: { routes: { '/cached': '10m', '/miss': '10m' } } })
  }
  if (mode === 'compress') await app.register(compress, { encodings: ['br', 'gzip'], threshold: 1024 })
  const send = async (_r: unknown, reply: { type(t: string): { send(b: string): unknown } }) =>
    reply.type('application/json; charset=utf-8').send(body)
  app.get('/plain', send)
  app.get('/cached', send)
  app.get('/miss', send)
  return app.listen({ port: 0, host: '127.0.0.1' })
}

const address = await main()
process.stdout.write(`${new URL(address).port}\n`)
process.on('SIGTERM', () => process.exit(0))
