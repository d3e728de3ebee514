/**
 * `hotpath serve`: runs the reference server (the agent gateway, src/server) in a child process.
 * The server is not part of the published package (it is an example and a load-test target), so
 * this works from a checkout of the repository, where its TypeScript source runs through tsx (a
 * devDependency). `--port`/`--host` set PORT/HOST; every other setting is the server's own
 * environment variables (see the README). SERVER_HEAP_MB caps the child's V8 old space
 * (`--max-old-space-size`, default 256; 0 leaves V8's default): a heap limit sized from the
 * machine's memory lets garbage pile up to gigabytes before a full collection, and the server's
 * live data (its response cache is bounded by CACHE_MAX_MB, mostly in Buffers outside the heap)
 * is far smaller.
 */
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { parseFlags, UsageError } from './args.js'
import type { CliIo } from './io.js'

const USAGE = `usage: hotpath serve [--port 3000] [--host 127.0.0.1]
Runs the reference server from this checkout (environment: PORT, HOST, REDIS_URL, ... see README).`

/** The child's V8 flags for SERVER_HEAP_MB: `--max-old-space-size`, or none for V8's default. */
export function serverHeapFlag(
  env: Record<string, string | undefined>,
  execArgv: readonly string[],
): string[] {
  const value = (env.SERVER_HEAP_MB ?? '').trim()
  if (value === '') {
    // an explicit --max-old-space-size (NODE_OPTIONS or this process's flags) is the user's choice
    if (/--max-old-space-size/.test(`${env.NODE_OPTIONS ?? ''} ${execArgv.join(' ')}`)) return []
    return ['--max-old-space-size=256']
  }
  const mb = Number(value)
  if (!/^\d+$/.test(value) || (mb !== 0 && (mb < 64 || mb > 1_000_000))) {
    throw new UsageError(
      `SERVER_HEAP_MB must be 0 (V8's default) or an integer from 64 to 1000000 (MiB); received ${JSON.stringify(env.SERVER_HEAP_MB)}`,
    )
  }
  return mb === 0 ? [] : [`--max-old-space-size=${mb}`]
}

/** Where the server's entry point is, relative to this file (src/cli or dist/cli). */
const root = fileURLToPath(new URL('../../', import.meta.url))
const entry = `${root}src/server/main.ts`

/** The `serve` verb. */
export async function serveCommand(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseFlags(argv, {
    port: { type: 'string' },
    host: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  })
  if (values.help === true) {
    io.out(USAGE)
    return 0
  }
  if (positionals.length > 0)
    throw new UsageError(`serve takes no arguments; received ${positionals.join(' ')}`)
  if (!existsSync(entry)) {
    io.err(
      `hotpath serve: the reference server is not in this installation (${entry} is missing).\nIt ships with the repository only: git clone the hotpath repository, npm install, then npx hotpath serve (or npm start).`,
    )
    return 2
  }
  let loader: string
  try {
    loader = pathToFileURL(createRequire(`${root}package.json`).resolve('tsx')).href
  } catch {
    io.err('hotpath serve: tsx is not installed; run npm install in the checkout (it is a devDependency).')
    return 2
  }
  const heap = serverHeapFlag(io.env, process.execArgv)
  const env = { ...io.env }
  if (values.port !== undefined) env.PORT = values.port
  if (values.host !== undefined) env.HOST = values.host
  const child = spawn(process.execPath, [...heap, '--import', loader, entry], { stdio: 'inherit', env })
  // A terminal's Ctrl-C reaches the child directly (same process group); the server treats a
  // second SIGINT as "force", so only a SIGTERM sent to this process is passed on.
  const remove = io.onInterrupt(() => {})
  const onTerm = (): void => {
    child.kill('SIGTERM')
  }
  process.on('SIGTERM', onTerm)
  try {
    return await new Promise<number>((resolve) => {
      child.on('exit', (code, signal) => resolve(code ?? (signal === null ? 1 : 128 + signalNumber(signal))))
      child.on('error', (err) => {
        io.err(`hotpath serve: cannot start the server: ${err.message}`)
        resolve(1)
      })
    })
  } finally {
    remove()
    process.off('SIGTERM', onTerm)
  }
}

function signalNumber(signal: NodeJS.Signals): number {
  return signal === 'SIGINT' ? 2 : signal === 'SIGTERM' ? 15 : signal === 'SIGKILL' ? 9 : 0
}
