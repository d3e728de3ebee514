/** Runs the `hotpath` binary (from the TypeScript sources, under tsx) in a child process. */
import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'

const MAIN = fileURLToPath(new URL('../../../src/cli/main.ts', import.meta.url))

/** How a run ended and what it printed. */
export interface Run {
  code: number | null
  stdout: string
  stderr: string
}

/** `hotpath ...args`; `env` is laid over this process's; killed after 30 s. */
export function hotpath(
  args: string[],
  options: { env?: Record<string, string>; onStart?: (child: ChildProcess) => void } = {},
): Promise<Run> {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...options.env },
  })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    stdout += d
  })
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr += d
  })
  options.onStart?.(child)
  const killer = setTimeout(() => child.kill('SIGKILL'), 30_000)
  return once(child, 'exit').then(([code]) => {
    clearTimeout(killer)
    return { code: code as number | null, stdout, stderr }
  })
}
