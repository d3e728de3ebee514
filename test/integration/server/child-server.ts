/**
 * Runs the reference server (`src/server/main.ts`, what `npm start` runs) in a child process, for
 * tests about startup errors, signals and exit codes.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const MAIN = fileURLToPath(new URL('../../../src/server/main.ts', import.meta.url))

/** A running child server and what it printed. */
export interface ChildServer {
  child: ChildProcess
  stdout(): string
  stderr(): string
  /** Resolves with the exit code (or the signal's name) when the process ends. */
  exited: Promise<number | string>
  /** Resolves with the URL once the server prints it; rejects if it exits first. */
  listening: Promise<string>
}

/** Starts main.ts with `env` over a clean base (no REDIS_URL unless given). */
export function startChild(env: Record<string, string>): ChildServer {
  const base: Record<string, string | undefined> = { ...process.env, REDIS_URL: '' }
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN], {
    env: { ...base, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  let err = ''
  child.stdout?.setEncoding('utf8').on('data', (d: string) => {
    out += d
  })
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    err += d
  })
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown'))
  })
  const listening = new Promise<string>((resolve, reject) => {
    const onData = () => {
      const m = /listening on (http:\/\/\S+)/.exec(out)
      if (m) {
        child.stdout?.off('data', onData)
        resolve(m[1] as string)
      }
    }
    child.stdout?.on('data', onData)
    void exited.then((code) => reject(new Error(`server exited (${code}) before listening: ${err}`)))
  })
  listening.catch(() => {})
  return { child, stdout: () => out, stderr: () => err, exited, listening }
}

/** Waits until `predicate(output)` holds for the child's stdout (or the child exits). */
export async function waitForOutput(server: ChildServer, predicate: (out: string) => boolean): Promise<void> {
  let done = false
  void server.exited.then(() => {
    done = true
  })
  while (!predicate(server.stdout())) {
    if (done)
      throw new Error(`server exited while waiting; stdout: ${server.stdout()} stderr: ${server.stderr()}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}
