#!/usr/bin/env node
// Builds dist/ from src/ (run by `npm run build` and by `prepare`, so a clone, a git URL or
// `npm pack` yields a usable package). dist/ is removed first so no stale module is shipped.
// The reference server (src/server) is not part of the package: `npm start` runs it from source.
import { spawnSync } from 'node:child_process'
import { rmSync } from 'node:fs'
import { createRequire } from 'node:module'

const root = new URL('..', import.meta.url)
rmSync(new URL('dist', root), { recursive: true, force: true })
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc')
const result = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], {
  cwd: root,
  stdio: 'inherit',
})
process.exit(result.status ?? 1)
