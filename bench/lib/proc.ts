/** Small helpers the benches share: polling for a condition, a process's RSS, CPU pinning. */
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import os from 'node:os'

/** Polls `check` every 2 ms until it holds (bounded). */
export async function until(check: () => boolean | Promise<boolean>, ms = 120_000): Promise<void> {
  const end = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > end) throw new Error('bench: timed out')
    await new Promise((r) => setTimeout(r, 2))
  }
}

/** RSS in bytes of `pid` and, with `tree`, of its descendants too (0 for a process that is gone). */
export function rssBytes(pid: number, tree = false): number {
  let kb = 0
  const stack = [pid]
  while (stack.length > 0) {
    const p = stack.pop() as number
    try {
      kb += Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${p}/status`, 'utf8'))?.[1] ?? 0)
      if (!tree) continue
      const children = readFileSync(`/proc/${p}/task/${p}/children`, 'utf8').trim()
      if (children !== '') stack.push(...children.split(/\s+/).map(Number))
    } catch {
      // gone meanwhile
    }
  }
  return kb * 1024
}

/**
 * CPU pinning with `taskset` (a bench's load on one CPU, what it measures on the other), or
 * undefined where there is no `taskset` or fewer than 2 CPUs. `measured` is the last CPU, `driver`
 * the others, `all` every CPU.
 */
export const PIN = (() => {
  const n = os.cpus().length
  if (n < 2 || spawnSync('sh', ['-c', 'command -v taskset']).status !== 0) return undefined
  return { measured: String(n - 1), driver: n === 2 ? '0' : `0-${n - 2}`, all: `0-${n - 1}` }
})()

/** Pins every thread of `pid` to `cpus` (a taskset list); false when it could not. */
export function pinProcess(pid: number, cpus: string): boolean {
  if (PIN === undefined) return false
  return spawnSync('taskset', ['-a', '-p', '-c', cpus, String(pid)], { stdio: 'ignore' }).status === 0
}
