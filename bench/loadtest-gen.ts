/**
 * The load-test bench's processes: targets (bench/loadtest-target.ts, the reference server),
 * generators (ours as the built binary, autocannon, wrk) and the CPU a generator used, read with
 * bash's `times` (children's user + system seconds), so it is the generator's own CPU only.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { LoadTestReport } from '../src/loadtest/index.js'

export const root = fileURLToPath(new URL('..', import.meta.url))

/** The built binary when dist/ exists (what users run), otherwise the sources through tsx. */
const bin = existsSync(`${root}dist/cli/main.js`)
  ? [`${root}dist/cli/main.js`]
  : ['--import', 'tsx', `${root}src/cli/main.ts`]

/** A bench target in its own process (`trivial` or `freeze`). */
export function startTarget(mode: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', `${root}bench/loadtest-target.ts`, mode], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  return new Promise((resolve) => {
    child.stdout?.once('data', (d: Buffer) =>
      resolve({ child, url: `http://127.0.0.1:${String(d).trim()}/` }),
    )
  })
}

/** `hotpath serve` (the reference server) on a free port. */
export function startReferenceServer(): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [...bin, 'serve', '--port', '0', '--host', '127.0.0.1'], {
    stdio: ['ignore', 'pipe', 'ignore'],
    cwd: root,
  })
  let out = ''
  return new Promise((resolve, reject) => {
    child.stdout?.setEncoding('utf8').on('data', (d: string) => {
      out += d
      const m = /listening on (http:\/\/\S+)/.exec(out)
      if (m !== null) resolve({ child, url: m[1] as string })
    })
    child.once('exit', (code) => reject(new Error(`hotpath serve exited (${code}): ${out}`)))
  })
}

/** What a generator printed on stdout and the CPU seconds it used (user + system, and each). */
export interface GeneratorRun {
  out: string
  cpu: number
  user: number
  sys: number
}

/** Runs a generator command to the end under bash, reading its CPU time with `times`. */
export function generator(cmd: string, args: string[]): Promise<GeneratorRun> {
  const dir = mkdtempSync(join(tmpdir(), 'hotpath-bench-'))
  const file = join(dir, 'out')
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', '"$@" > "$BENCH_OUT"; times', 'bash', cmd, ...args], {
      stdio: ['ignore', 'pipe', 'ignore'],
      cwd: root,
      env: { ...process.env, BENCH_OUT: file },
    })
    let times = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      times += d
    })
    child.once('exit', () => {
      const out = readFileSync(file, 'utf8')
      rmSync(dir, { recursive: true, force: true })
      // `times` prints the shell's own user/system, then its children's: "0m1.234s 0m0.456s".
      const children = times.trim().split('\n')[1] ?? ''
      const [user = 0, sys = 0] = [...children.matchAll(/(\d+)m([\d.]+)s/g)].map(
        (m) => Number(m[1]) * 60 + Number(m[2]),
      )
      resolve({ out, cpu: user + sys, user, sys })
    })
    child.once('error', reject)
  })
}

/** `hotpath loadtest` (JSON report, no progress, no scraping) and its CPU. */
export async function oursRun(
  args: string[],
): Promise<{ report: LoadTestReport; cpu: number; user: number; sys: number }> {
  const r = await generator(process.execPath, [
    ...bin,
    'loadtest',
    ...args,
    '--json',
    '-q',
    '--scrape',
    'off',
  ])
  return { report: JSON.parse(r.out), cpu: r.cpu, user: r.user, sys: r.sys }
}

/** `hotpath loadtest`'s JSON report. */
export async function ours(args: string[]): Promise<LoadTestReport> {
  return (await oursRun(args)).report
}

/** The parts of autocannon's --json output read here. */
export interface AutocannonJson {
  requests: { average: number; total: number }
  latency: { p50: number; p90: number; p99: number }
}

/** autocannon (--json) and its CPU. */
export async function autocannonRun(
  args: string[],
): Promise<{ report: AutocannonJson; cpu: number; user: number; sys: number }> {
  const r = await generator(process.execPath, [
    `${root}node_modules/autocannon/autocannon.js`,
    '--json',
    ...args,
  ])
  return { report: JSON.parse(r.out), cpu: r.cpu, user: r.user, sys: r.sys }
}

/** autocannon's JSON. */
export async function autocannon(args: string[]): Promise<AutocannonJson> {
  return (await autocannonRun(args)).report
}
