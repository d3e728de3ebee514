/**
 * `npm run bench [-- suite ...]`: runs each suite, printing ours vs the peers measured in the
 * same process run, with ratios. Results go to bench/results/latest.json as well.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import { allRows, ratioOf } from './lib/harness.js'

interface Suite {
  name: string
  run(): Promise<void>
}

const suites: Record<string, () => Promise<Suite>> = {
  cache: async () => (await import('./cache.bench.js')).default,
  resilience: async () => (await import('./resilience.bench.js')).default,
  metrics: async () => (await import('./metrics.bench.js')).default,
  fastify: async () => (await import('./fastify.bench.js')).default,
  ws: async () => (await import('./ws.bench.js')).default,
  dashboard: async () => (await import('./dashboard.bench.js')).default,
  bus: async () => (await import('./bus.bench.js')).default,
  loadtest: async () => (await import('./loadtest.bench.js')).default,
  db: async () => (await import('./db.bench.js')).default,
  server: async () => (await import('./server.bench.js')).default,
}

const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'))
console.log(
  `hotpath bench — ${new Date().toISOString()} — Node ${process.version} — ${os.cpus().length}x ${os.cpus()[0]?.model ?? 'cpu'} — ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB`,
)
const unknown = wanted.filter((w) => !(w in suites))
if (unknown.length > 0) {
  console.error(`unknown suite(s): ${unknown.join(', ')}; known: ${Object.keys(suites).join(', ')}`)
  process.exit(2)
}
for (const [name, load] of Object.entries(suites)) {
  if (wanted.length > 0 && !wanted.includes(name)) continue
  const suite = await load()
  console.log(`\n## ${suite.name}`)
  await suite.run()
}
mkdirSync(new URL('./results/', import.meta.url), { recursive: true })
writeFileSync(
  new URL('./results/latest.json', import.meta.url),
  JSON.stringify(
    {
      date: new Date().toISOString(),
      node: process.version,
      cpus: os.cpus().length,
      rows: allRows().map((r) => ({ ...r, ratio: ratioOf(r) })),
    },
    null,
    2,
  ),
)
process.exit(0)
