#!/usr/bin/env node
// Runs the test suites with Node's test runner (TypeScript through tsx).
//   node scripts/test.mjs            unit + integration
//   node scripts/test.mjs unit       unit only (no I/O, no services needed)
//   node scripts/test.mjs integration
// Before integration tests it makes sure Redis and PostgreSQL answer, starts them from the
// locally installed binaries when they are installed but down, and otherwise stops with a
// message naming what to install.
import { execSync, spawnSync } from 'node:child_process'
import { readdirSync, statSync } from 'node:fs'
import net from 'node:net'
import { join } from 'node:path'

const which = process.argv[2] ?? 'all'
const root = new URL('..', import.meta.url).pathname

function collect(dir) {
  const out = []
  let names
  try {
    names = readdirSync(dir)
  } catch {
    return out
  }
  for (const name of names.sort()) {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) out.push(...collect(path))
    else if (name.endsWith('.test.ts')) out.push(path)
  }
  return out
}

function hostPort(url, defPort) {
  const u = new URL(url)
  return { host: u.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1', port: Number(u.port || defPort) }
}

function probe({ host, port }, timeoutMs = 1000) {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port })
    const done = (ok) => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(timeoutMs, () => done(false))
    socket.once('connect', () => done(true))
    socket.once('error', () => done(false))
  })
}

function has(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0
}

async function waitFor(target, ms) {
  const until = Date.now() + ms
  while (Date.now() < until) {
    if (await probe(target, 500)) return true
    await new Promise((r) => setTimeout(r, 200))
  }
  return false
}

async function ensureRedis() {
  const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
  const target = hostPort(url, 6379)
  if (await probe(target)) return
  if (!has('redis-server')) {
    throw new Error(
      `Redis is not answering at ${url} and redis-server is not installed. Install it (Debian: apt-get install redis-server) or set REDIS_URL.`,
    )
  }
  console.log(`# starting redis-server on port ${target.port}`)
  execSync(
    `redis-server --daemonize yes --bind 127.0.0.1 -::1 --port ${target.port} --save "" --appendonly no`,
    { stdio: 'inherit' },
  )
  if (!(await waitFor(target, 10_000))) throw new Error(`redis-server was started but ${url} does not answer`)
}

async function ensurePostgres() {
  const url = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
  const target = hostPort(url, 5432)
  if (await probe(target)) return
  if (!has('pg_ctlcluster')) {
    throw new Error(
      `PostgreSQL is not answering at ${url} and pg_ctlcluster is not installed. Install it (Debian: apt-get install postgresql) or set DATABASE_URL.`,
    )
  }
  console.log('# starting postgresql')
  execSync('pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql | head -1) main start', {
    stdio: 'inherit',
    shell: '/bin/sh',
  })
  if (!(await waitFor(target, 20_000))) throw new Error(`PostgreSQL was started but ${url} does not answer`)
}

const files = []
if (which === 'all' || which === 'unit') files.push(...collect(join(root, 'test/unit')))
if (which === 'all' || which === 'integration') {
  try {
    await ensureRedis()
    await ensurePostgres()
    for (const bin of ['promtool', 'prometheus']) {
      if (!has(bin)) {
        throw new Error(
          `${bin} is not installed; the metrics integration tests need it. Install it (Debian: apt-get install prometheus).`,
        )
      }
    }
  } catch (err) {
    console.error(`\n${err.message}\n`)
    process.exit(1)
  }
  files.push(...collect(join(root, 'test/integration')))
}
if (files.length === 0) {
  console.error(`no test files found for "${which}"`)
  process.exit(1)
}
const result = spawnSync(
  process.execPath,
  [
    '--import',
    'tsx',
    '--test',
    '--test-reporter=spec',
    '--test-concurrency=2',
    '--test-timeout=60000',
    ...files,
  ],
  { stdio: 'inherit', cwd: root, env: { ...process.env, NODE_ENV: 'test' } },
)
process.exit(result.status ?? 1)
