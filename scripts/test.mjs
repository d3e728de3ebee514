#!/usr/bin/env node
// Runs the test suites with Node's test runner (TypeScript through tsx).
//   node scripts/test.mjs            unit + integration + package and docs checks
//   node scripts/test.mjs unit       unit only (no I/O, no services needed)
//   node scripts/test.mjs integration
//   node scripts/test.mjs package    builds dist/, then the package and docs checks
// Before integration tests it makes sure the services answer: Redis (6379), PostgreSQL (5432,
// database `test`), NATS with JetStream (4222), and that promtool and prometheus exist. What is
// missing is installed with apt-get when running as root on Debian (one `apt-get update` first);
// otherwise the run stops with a message naming the Debian package to install. Services that are
// installed but down are started from the local binaries. So `npm ci && npm test` is the whole
// set-up on a fresh Debian machine.
import { execFileSync, execSync, spawn, spawnSync } from 'node:child_process'
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const which = process.argv[2] ?? 'all'
const root = new URL('..', import.meta.url).pathname
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0

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

let aptUpdated = false
const installedNow = new Set()

/**
 * Makes sure every command in `bins` exists, installing Debian package `pkg` with apt-get when
 * running as root; otherwise throws a message naming the package (and what needs it).
 */
function ensureInstalled(pkg, bins, why) {
  const missing = bins.filter((bin) => !has(bin))
  if (missing.length === 0) return
  if (!isRoot || !has('apt-get')) {
    throw new Error(
      `${missing.join(' and ')} not found: ${why}. Install the Debian package "${pkg}" (sudo apt-get install ${pkg}), or run the tests as root to have it installed.`,
    )
  }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  if (!aptUpdated) {
    console.log('# apt-get update')
    execFileSync('apt-get', ['update'], { stdio: 'inherit', env })
    aptUpdated = true
  }
  console.log(`# apt-get install ${pkg} (for ${missing.join(', ')})`)
  execFileSync('apt-get', ['install', '-y', '--no-install-recommends', pkg], { stdio: 'inherit', env })
  installedNow.add(pkg)
  const still = bins.filter((bin) => !has(bin))
  if (still.length > 0) throw new Error(`apt-get installed ${pkg} but ${still.join(', ')} is still missing`)
}

async function ensureRedis() {
  const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
  const target = hostPort(url, 6379)
  if (await probe(target)) return
  ensureInstalled('redis-server', ['redis-server'], `Redis is not answering at ${url} (or set REDIS_URL)`)
  console.log(`# starting redis-server on port ${target.port}`)
  execSync(
    `redis-server --daemonize yes --bind 127.0.0.1 -::1 --port ${target.port} --save "" --appendonly no`,
    { stdio: 'inherit' },
  )
  if (!(await waitFor(target, 10_000))) throw new Error(`redis-server was started but ${url} does not answer`)
}

function psql(sql) {
  return execFileSync('runuser', ['-u', 'postgres', '--', 'psql', '-h', '/var/run/postgresql', '-tAc', sql], {
    encoding: 'utf8',
    cwd: '/',
  }).trim()
}

async function ensurePostgres() {
  const url = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
  const target = hostPort(url, 5432)
  if (!(await probe(target))) {
    ensureInstalled(
      'postgresql',
      ['pg_ctlcluster'],
      `PostgreSQL is not answering at ${url} (or set DATABASE_URL)`,
    )
    const version = readdirSync('/etc/postgresql').sort().at(-1)
    if (installedNow.has('postgresql')) {
      // A fresh Debian cluster asks for a password on TCP; the test database is local and
      // throwaway, so loopback connections are trusted (as on the CI machines).
      const hba = `/etc/postgresql/${version}/main/pg_hba.conf`
      writeFileSync(
        hba,
        `host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust\n${readFileSync(hba, 'utf8')}`,
      )
    }
    console.log(`# starting postgresql ${version}`)
    execFileSync('pg_ctlcluster', ['--skip-systemctl-redirect', version, 'main', 'start'], {
      stdio: 'inherit',
    })
    if (!(await waitFor(target, 20_000))) throw new Error(`PostgreSQL was started but ${url} does not answer`)
  }
  const db = decodeURIComponent(new URL(url).pathname.slice(1)) || 'postgres'
  if (isRoot && has('runuser') && has('psql') && target.host === '127.0.0.1') {
    try {
      const exists = psql(`SELECT 1 FROM pg_database WHERE datname = '${db.replaceAll("'", "''")}'`)
      if (exists !== '1') {
        console.log(`# creating database ${db}`)
        psql(`CREATE DATABASE "${db.replaceAll('"', '""')}"`)
      }
    } catch (err) {
      console.warn(`# could not check database ${db}: ${err.message.split('\n')[0]}`)
    }
  }
}

/**
 * HypoPG lets the index advisor cost hypothetical indexes instead of building and rolling back
 * real ones. Optional: installed when running as root on Debian, and the tests pass without it.
 */
function ensureHypoPG() {
  let version
  try {
    version = readdirSync('/etc/postgresql').sort().at(-1)
  } catch {
    return
  }
  if (version === undefined) return
  try {
    statSync(`/usr/share/postgresql/${version}/extension/hypopg.control`)
    return
  } catch {
    // not installed
  }
  if (!isRoot || !has('apt-get')) return
  const pkg = `postgresql-${version}-hypopg`
  try {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
    if (!aptUpdated) {
      execFileSync('apt-get', ['update'], { stdio: 'inherit', env })
      aptUpdated = true
    }
    console.log(`# apt-get install ${pkg} (optional: the index advisor's what-if costing)`)
    execFileSync('apt-get', ['install', '-y', '--no-install-recommends', pkg], { stdio: 'inherit', env })
  } catch (err) {
    console.warn(
      `# ${pkg} could not be installed (${err.message.split('\n')[0]}); the advisor falls back to rolled-back indexes`,
    )
  }
}

async function ensureNats() {
  const url = process.env.NATS_URL ?? 'nats://127.0.0.1:4222'
  const target = hostPort(url, 4222)
  if (await probe(target)) return
  ensureInstalled('nats-server', ['nats-server'], `NATS is not answering at ${url} (or set NATS_URL)`)
  const bin = execSync('command -v nats-server', { encoding: 'utf8', shell: '/bin/sh' }).trim()
  // The Debian package's state directory for the default server; a private one otherwise.
  const store =
    isRoot && target.port === 4222 ? '/var/lib/nats-server' : join(tmpdir(), `hotpath-nats-${target.port}`)
  mkdirSync(store, { recursive: true })
  console.log(`# starting nats-server (JetStream) on port ${target.port}`)
  const args = ['-a', '127.0.0.1', '-p', String(target.port), '-js', '-sd', store]
  if (target.port === 4222 && has('start-stop-daemon')) {
    // --oknodo: a nats-server already running from this binary is left alone.
    execFileSync('start-stop-daemon', ['--start', '--oknodo', '--background', '--exec', bin, '--', ...args], {
      stdio: 'inherit',
    })
  } else {
    spawn(bin, args, { detached: true, stdio: 'ignore' }).unref()
  }
  if (!(await waitFor(target, 10_000))) throw new Error(`nats-server was started but ${url} does not answer`)
}

const files = []
if (which === 'all' || which === 'unit') files.push(...collect(join(root, 'test/unit')))
if (which === 'all' || which === 'integration') {
  try {
    await ensureRedis()
    await ensurePostgres()
    ensureHypoPG()
    await ensureNats()
    ensureInstalled(
      'prometheus',
      ['promtool', 'prometheus'],
      'the metrics integration tests check the exposition with promtool and scrape it with a real Prometheus',
    )
    ensureInstalled('chromium', ['chromium'], 'the dashboard end-to-end test drives a headless Chromium')
  } catch (err) {
    console.error(`\n${err.message}\n`)
    process.exit(1)
  }
  files.push(...collect(join(root, 'test/integration')))
}
if (which === 'all' || which === 'package') {
  // The package and docs checks read dist/: build it from the current sources first.
  const build = spawnSync(process.execPath, [join(root, 'scripts/build.mjs')], { stdio: 'inherit' })
  if (build.status !== 0) process.exit(build.status ?? 1)
  files.push(...collect(join(root, 'test/package')), ...collect(join(root, 'test/docs')))
}
if (files.length === 0) {
  console.error(`no test files found for "${which}"`)
  process.exit(1)
}
/** Runs `list` with the test runner; the spec report goes to the terminal, a TAP copy to `tap`. */
function run(list, tap) {
  return spawnSync(
    process.execPath,
    [
      '--import',
      'tsx',
      '--test',
      '--test-reporter=spec',
      '--test-reporter-destination=stdout',
      '--test-reporter=tap',
      `--test-reporter-destination=${tap}`,
      '--test-concurrency=2',
      '--test-timeout=60000',
      ...list,
    ],
    { stdio: 'inherit', cwd: root, env: { ...process.env, NODE_ENV: 'test' } },
  )
}

// Signals of a runtime that crashed (V8's fatal checks abort), not of a test that failed or hung.
const CRASH = /^ {2}signal: '(SIGABRT|SIGSEGV|SIGTRAP|SIGILL|SIGBUS)'$/m

/**
 * The files whose process the runtime itself killed, when every failure of the run is one of
 * those; otherwise undefined. Node 24.21's V8 once aborted at the end of a file that had passed
 * (`Check failed: jit_page_->allocations_.erase(addr) == 1` in its wasm code allocator, under
 * PGlite and libpg-query): such a file is run once more, said out loud, never a failed test.
 */
function crashedOnly(tap) {
  let text
  try {
    text = readFileSync(tap, 'utf8')
  } catch {
    return undefined
  }
  // top-level results: one per file ("not ok N - /path/to/file.test.ts" at column 0)
  const blocks = text.split(/^(?=(?:not )?ok \d+ - )/m).filter((b) => b.startsWith('not ok '))
  if (blocks.length === 0 || blocks.length > 2) return undefined
  const files = []
  for (const b of blocks) {
    const m = /^not ok \d+ - (\S+\.test\.ts)\n/.exec(b)
    if (m === null || !CRASH.test(b) || /^ {4}not ok /m.test(b)) return undefined
    files.push(m[1])
  }
  return files
}

const tapDir = join(tmpdir(), `hotpath-test-${process.pid}`)
mkdirSync(tapDir, { recursive: true })
let result = run(files, join(tapDir, 'run.tap'))
if (result.status !== 0) {
  const crashed = crashedOnly(join(tapDir, 'run.tap'))
  if (crashed !== undefined) {
    console.error(
      `\nThe runtime crashed (a signal, no failed test) in ${crashed.join(', ')}: running ${crashed.length === 1 ? 'it' : 'them'} once more.\n`,
    )
    result = run(crashed, join(tapDir, 'rerun.tap'))
  }
}
process.exit(result.status ?? 1)
