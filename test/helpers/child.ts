/** Runs an ES module `source` in a child Node process (TypeScript through tsx) from the repo root. */
import { spawnSync } from 'node:child_process'

const root = new URL('../..', import.meta.url).pathname

/** The child's exit status and output; it is killed after 20 s. */
export function runScript(source: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', source], {
    cwd: root,
    encoding: 'utf8',
    timeout: 20_000,
  })
  return { status: r.status, stdout: r.stdout, stderr: r.stderr }
}
