/**
 * Every TypeScript block in README.md and docs/*.md type-checks against the built declarations
 * (dist/, as a user's project sees them: strict, module nodenext, exactOptionalPropertyTypes,
 * skipLibCheck false), so the docs cannot drift from the API. Placeholders the blocks use (db,
 * id, app, handler...) are declared once in a preamble; a block's own declarations shadow them.
 * dist/ is built by scripts/test.mjs before the tests run.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'

const root = new URL('../..', import.meta.url).pathname
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc')
// Under the repository's node_modules, so the blocks resolve zod, fastify, ioredis and @types/node
// from it; hotpath itself resolves to this checkout's package.json exports and dist/.
const work = join(root, 'node_modules/.cache/hotpath-docs-check', String(process.pid))

const COMPILER_OPTIONS = {
  strict: true,
  module: 'nodenext',
  moduleResolution: 'nodenext',
  target: 'es2022',
  lib: ['es2023'],
  types: ['node'],
  exactOptionalPropertyTypes: true,
  skipLibCheck: false,
  noEmit: true,
}

const PREAMBLE = `import type { FastifyInstance, FastifyReply, RouteHandlerMethod } from 'fastify'
import type { Redis } from 'ioredis'
import type { ServerResponse } from 'node:http'
import type { Cache, createCache as CreateCache } from 'hotpath/cache'
import type { Monitor } from 'hotpath/metrics'
import type Hotpath from 'hotpath/fastify'

declare global {
  interface User { id: number; name: string; email: string }
  const db: {
    user(id: number, options?: { signal?: AbortSignal }): Promise<User>
    ping(): Promise<'ok' | 'down'>
    query(sql: string): Promise<unknown[]>
  }
  const id: number
  const url: string
  const body: string
  const hookUrl: string
  const sql: string
  const redis: Redis
  const app: FastifyInstance
  const reply: FastifyReply
  const res: ServerResponse
  const handler: RouteHandlerMethod
  const cache: Cache
  const monitor: Monitor
  const createCache: typeof CreateCache
  const hotpath: typeof Hotpath
}
// what an authentication plugin adds
declare module 'fastify' {
  interface FastifyRequest { user: { id: string } }
}
`

/** Checks of inference that the docs rely on but do not spell out. */
const INFERENCE = `import { createCache } from 'hotpath/cache'
import { z } from 'zod'

const cache = createCache({ redis: process.env.REDIS_URL })
const user = await cache.getOrSet(\`user:\${id}\`, ({ signal }) => db.user(id, { signal }))
const name: string = user.name
const parsed = await cache.getOrSet('k', ({ signal }) => db.user(id, { signal }), {
  schema: z.object({ id: z.number() }),
})
const onlyId: { id: number } = parsed
// @ts-expect-error the schema's output has no name
parsed.name
const counted = await cache.getOrSet<number>('n', ({ stale }) => (stale ?? 0) + 1)
const many = await cache.getOrSetMany(['a', 'b'], async (keys) => keys.map((k) => k.length))
const first: number | undefined = many[0]
export { name, onlyId, counted, first }
`

/** What a memory-only user compiles: must not pull in ioredis's declarations. */
const MEMORY_ONLY = `import { createCache } from 'hotpath/cache'
import { retry, createRateLimiter } from 'hotpath/resilience'
import { HotpathError } from 'hotpath'
const cache = createCache({ ttl: '1m' })
export const v: number = await cache.getOrSet('k', () => 1)
export { retry, createRateLimiter, HotpathError }
`

interface Block {
  file: string
  source: string
  line: number
}

function blocks(): Block[] {
  const docs = [
    'README.md',
    ...readdirSync(join(root, 'docs'))
      .filter((f) => f.endsWith('.md'))
      .map((f) => `docs/${f}`),
  ]
  const out: Block[] = []
  for (const doc of docs) {
    const text = readFileSync(join(root, doc), 'utf8')
    for (const m of text.matchAll(/^```(?:ts|typescript)\n([\s\S]*?)^```/gm)) {
      const line = text.slice(0, m.index).split('\n').length + 1
      out.push({ file: `${doc.replace(/[/.]/g, '_')}_${line}.ts`, source: m[1] as string, line })
    }
  }
  return out
}

function compile(dir: string, files: string[]): { status: number | null; output: string; files: string[] } {
  writeFileSync(
    join(dir, 'tsconfig.json'),
    JSON.stringify({ compilerOptions: COMPILER_OPTIONS, files }, null, 2),
  )
  const r = spawnSync(process.execPath, [tsc, '-p', dir, '--listFiles'], { encoding: 'utf8' })
  const lines = r.stdout.split('\n')
  return {
    status: r.status,
    output: lines.filter((l) => l.includes('error TS') || l.startsWith(' ')).join('\n'),
    files: lines.filter((l) => l.startsWith('/')),
  }
}

function project(name: string): string {
  const dir = join(work, name)
  mkdirSync(join(dir, 'node_modules/hotpath'), { recursive: true })
  writeFileSync(join(dir, 'package.json'), '{ "private": true, "type": "module" }\n')
  writeFileSync(join(dir, 'node_modules/hotpath/package.json'), readFileSync(join(root, 'package.json')))
  symlinkSync(join(root, 'dist'), join(dir, 'node_modules/hotpath/dist'), 'dir')
  return dir
}

before(() => mkdirSync(work, { recursive: true }))
after(() => rmSync(work, { recursive: true, force: true }))

describe('TypeScript in the docs', () => {
  test('every README.md and docs/*.md block type-checks against dist/ (strict, nodenext, exactOptionalPropertyTypes)', () => {
    const dir = project('docs')
    const all = blocks()
    assert.ok(all.length >= 5, `found only ${all.length} blocks`)
    writeFileSync(join(dir, 'preamble.ts'), PREAMBLE)
    writeFileSync(join(dir, 'inference.ts'), INFERENCE)
    for (const b of all) writeFileSync(join(dir, b.file), `${b.source}\nexport {}\n`)
    const r = compile(dir, ['preamble.ts', 'inference.ts', ...all.map((b) => b.file)])
    // name the doc and line of each error: "README_md_58.ts(3,5)" -> "README.md line 60"
    const where = r.output.replace(
      /^(?:\S*\/)?([^/\s]+?)_md_(\d+)\.ts\((\d+),(\d+)\)/gm,
      (_, doc, start, line, col) => {
        return `${doc.replace(/_/g, '/')}.md line ${Number(start) + Number(line) - 1}:${col}`
      },
    )
    assert.equal(r.status, 0, `type errors in the docs:\n${where}`)
  })

  test('a memory-only user does not need ioredis (no ioredis declarations in the program, skipLibCheck false)', () => {
    const dir = project('memory-only')
    writeFileSync(join(dir, 'main.ts'), MEMORY_ONLY)
    const r = compile(dir, ['main.ts'])
    assert.equal(r.status, 0, r.output)
    assert.ok(
      r.files.some((f) => f.startsWith(join(root, 'dist/cache/'))),
      'the program holds hotpath/cache',
    )
    const ioredis = r.files.filter((f) => f.includes('/node_modules/ioredis/'))
    assert.deepEqual(ioredis, [], 'hotpath declarations pull in ioredis')
  })
})
