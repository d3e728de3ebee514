/** Small helpers the benches share: polling for a condition and reading a process's RSS. */
import { readFileSync } from 'node:fs'

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
