#!/usr/bin/env node
// Builds dist/ from src/ (run by `npm run build` and by `prepare`, so a clone, a git URL or
// `npm pack` yields a usable package). dist/ is removed first so no stale module is shipped.
// The reference server (src/server) is not part of the package: `npm start` runs it from source.
//
// The sources are type-checked against ioredis's own types, but ioredis is an optional peer: the
// published declarations name the structural RedisClientLike / RedisClusterLike (src/cache/types.ts)
// instead, so a memory-only user compiling with `skipLibCheck: false` gets no TS2307 for 'ioredis'.
import { spawnSync } from 'node:child_process'
import { chmodSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join, relative, sep } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const dist = join(root, 'dist')
rmSync(dist, { recursive: true, force: true })
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc')
const result = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], {
  cwd: root,
  stdio: 'inherit',
})
if (result.status !== 0) process.exit(result.status ?? 1)
// The `hotpath` bin (package.json) runs straight from a checkout: tsc writes files 0644.
chmodSync(join(dist, 'cli/main.js'), 0o755)

const STRUCTURAL = { Redis: 'RedisClientLike', Cluster: 'RedisClusterLike' }
const structuralTypes = join(dist, 'cache/types.js')

function declarations(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) return declarations(path)
    return name.endsWith('.d.ts') ? [path] : []
  })
}

for (const file of declarations(dist)) {
  const text = readFileSync(file, 'utf8')
  if (!/["']ioredis["']/.test(text)) continue
  let spec = relative(dirname(file), structuralTypes).split(sep).join('/')
  if (!spec.startsWith('.')) spec = `./${spec}`
  const out = text.replace(/^import type \{([^}]*)\} from 'ioredis';$/gm, (line, names) => {
    const mapped = names.split(',').map((part) => {
      const [name, alias] = part.trim().split(/\s+as\s+/)
      if (!(name in STRUCTURAL))
        throw new Error(`${file}: no structural type for ioredis's ${name} (${line})`)
      return `${STRUCTURAL[name]} as ${alias ?? name}`
    })
    return `import type { ${mapped.join(', ')} } from '${spec}';`
  })
  if (out.includes("'ioredis'"))
    throw new Error(`${file} still refers to 'ioredis' in a way the build cannot rewrite`)
  writeFileSync(file, out)
}
