/** Module scenarios (a .mjs and a .ts file exporting the scenario, functions allowed) run end to end. */
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { isHotpathError } from '../../../src/errors.js'
import { loadScenarioFile, runLoadTest } from '../../../src/loadtest/index.js'

const dir = mkdtempSync(join(tmpdir(), 'hotpath-scenario-'))
let server: http.Server
let base: string
const paths: string[] = []

before(async () => {
  server = http.createServer((req, res) => {
    if (req.method === 'GET' && req.url !== '/metrics') paths.push(req.url ?? '')
    res.end('ok')
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})

after(() => {
  server.closeAllConnections()
  server.close()
  rmSync(dir, { recursive: true, force: true })
})

test('a module scenario with a path function runs; a .ts one loads under tsx', async () => {
  const file = join(dir, 'mix.mjs')
  writeFileSync(
    file,
    `export default { rate: 50, duration: '400ms', steps: [{ path: (vars) => '/items/' + vars.iteration }] }\n`,
  )
  const scenario = await loadScenarioFile(file)
  const r = await runLoadTest({ ...scenario, target: base })
  assert.equal(r.requests, 20)
  assert.deepEqual(paths.slice().sort(), Array.from({ length: 20 }, (_, i) => `/items/${i}`).sort())
  const ts = join(dir, 'typed.ts')
  writeFileSync(ts, `const n: number = 3\nexport const scenario = { vus: n, steps: [{ path: '/x' }] }\n`)
  assert.equal((await loadScenarioFile(ts)).vus, 3)
})

test('a module without a scenario, or with a bad one, names the file', async () => {
  const empty = join(dir, 'empty.mjs')
  writeFileSync(empty, 'export const nothing = 1\n')
  await assert.rejects(
    loadScenarioFile(empty),
    (err: unknown) =>
      isHotpathError(err, 'E_SCENARIO') &&
      (err as Error).message.startsWith(`${empty}: (module): exports no scenario`),
  )
  const bad = join(dir, 'bad.mjs')
  writeFileSync(bad, "export default { steps: [{ method: 'FETCH' }] }\n")
  await assert.rejects(loadScenarioFile(bad), /bad\.mjs: steps\[0\]\.method: must be one of/)
})
