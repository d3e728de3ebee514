/**
 * `hotpath serve`: runs the reference server (the agent gateway, src/server) in a child process.
 * The server is not part of the published package (it is an example and a load-test target), so
 * this works from a checkout of the repository, where its TypeScript source runs through tsx (a
 * devDependency). `--port`/`--host` set PORT/HOST; every other setting is the server's own
 * environment variables (see the README).
 */
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { parseFlags, UsageError } from './args.js'
import type { CliIo } from './io.js'

const USAGE = `usage: hotpath serve [--port 3000] [--host 127.0.0.1]
Runs the reference server from this checkout (environment: PORT, HOST, REDIS_URL, ... see README).`

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
  const env = { ...io.env }
  if (values.port !== undefined) env.PORT = values.port
  if (values.host !== undefined) env.HOST = values.host
  const child = spawn(process.execPath, ['--import', loader, entry], { stdio: 'inherit', env })
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
