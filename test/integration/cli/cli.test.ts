/**
 * The `hotpath` binary in child processes: exit codes 0/1 from thresholds, the JSON report,
 * merge, Ctrl-C (SIGINT) writing the report of what ran, and `serve` running the reference server.
 */
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { hotpath } from './spawn.js'

const dir = mkdtempSync(join(tmpdir(), 'hotpath-cli-it-'))
let server: http.Server
let url: string
let seen = 0

before(async () => {
  server = http.createServer((req, res) => {
    if (req.method !== 'HEAD' && req.url !== '/metrics') seen++
    res.end('hello')
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`
})

after(() => {
  server.closeAllConnections()
  server.close()
  rmSync(dir, { recursive: true, force: true })
})

describe('hotpath loadtest', () => {
  test('thresholds set the exit code (0 held, 1 failed); --out writes the report; merge adds runs exactly', async () => {
    const a = join(dir, 'a.json')
    const b = join(dir, 'b.json')
    seen = 0
    const pass = await hotpath(['loadtest', url, '-R', '100', '-d', '1500ms', '-t', 'errors < 1%', '-o', a])
    assert.equal(pass.code, 0, pass.stderr)
    assert.match(pass.stdout, /threshold +PASS {2}errors < 1%/)
    // Not a TTY: plain progress lines, one per second.
    assert.match(pass.stderr, /^\[ +1s\] +\d+ req\/s/m)
    const fail = await hotpath(['loadtest', url, '-R', '100', '-d', '1s', '-q', '-t', 'p50 < 1us', '-o', b])
    assert.equal(fail.code, 1, fail.stderr)
    assert.match(fail.stdout, /threshold +FAIL {2}p50 < 1us/)
    const ra = JSON.parse(readFileSync(a, 'utf8'))
    const rb = JSON.parse(readFileSync(b, 'utf8'))
    assert.equal(ra.requests + rb.requests, seen)
    assert.equal(typeof ra.histograms.corrected, 'string')
    const merged = join(dir, 'm.json')
    const m = await hotpath(['loadtest', 'merge', a, b, '-o', merged, '-t', 'errors < 1%'])
    assert.equal(m.code, 0, m.stderr)
    const rm = JSON.parse(readFileSync(merged, 'utf8'))
    assert.equal(rm.requests, seen)
    assert.equal(rm.runs, 2)
    assert.equal(rm.latency.corrected.count, seen)
  })

  test('Ctrl-C (SIGINT) stops the run, prints and writes the report of what ran, exits 130', async () => {
    const out = join(dir, 'int.json')
    const r = await hotpath(['loadtest', url, '-R', '50', '-d', '60s', '-o', out], {
      onStart: (child) => {
        // Interrupt once the run is under way (its first progress line).
        child.stderr?.once('data', () => child.kill('SIGINT'))
      },
    })
    assert.equal(r.code, 130, r.stderr)
    assert.ok(existsSync(out))
    const report = JSON.parse(readFileSync(out, 'utf8'))
    assert.equal(report.stopped.reason, 'interrupted')
    assert.ok(report.requests > 0)
    assert.match(r.stdout, /stopped +interrupted/)
  })

  test('a target that does not answer is one clear error, exit 2', async () => {
    const r = await hotpath(['loadtest', 'http://127.0.0.1:1/', '-d', '1s', '-q'])
    assert.equal(r.code, 2)
    assert.match(r.stderr, /target: http:\/\/127\.0\.0\.1:1\/ does not answer \(ECONNREFUSED\)/)
  })
})

describe('hotpath serve', () => {
  test('runs the reference server; SIGTERM drains it and exits 0', async () => {
    let listening = ''
    const r = await hotpath(['serve', '--port', '0', '--host', '127.0.0.1'], {
      onStart: (child) => {
        child.stdout?.on('data', (d: Buffer) => {
          const m = /listening on (http:\/\/\S+)/.exec(String(d))
          if (m === null || listening !== '') return
          listening = m[1] as string
          http.get(`${listening}/health/live`, (res) => {
            res.resume()
            res.on('end', () => child.kill('SIGTERM'))
            if (res.statusCode !== 200) child.kill('SIGKILL')
          })
        })
      },
    })
    assert.notEqual(listening, '')
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /SIGTERM: draining/)
  })
})
