/**
 * The package as a user gets it: `npm pack` (what a registry or a git URL install holds), every
 * `exports` target present in the tarball, and a scratch consumer that imports and require()s
 * every subpath. Network-free: the consumer's node_modules links only the packages hotpath
 * declares (dependencies and peerDependencies) from this checkout, so an undeclared import fails.
 * dist/ is built by scripts/test.mjs before the tests run (npm pack runs with --ignore-scripts).
 */
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { after, before, describe, test } from 'node:test'

const root = new URL('../..', import.meta.url).pathname
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  exports: Record<string, string | Record<string, string>>
  dependencies: Record<string, string>
  peerDependencies: Record<string, string>
}
const subpaths = Object.keys(pkg.exports).filter((s) => s !== './package.json')
const specifiers = subpaths.map((s) => (s === '.' ? 'hotpath' : `hotpath/${s.slice(2)}`))

let work: string
let files: Set<string>
let consumer: string

before(() => {
  work = mkdtempSync(join(tmpdir(), 'hotpath-pack-'))
  const out = execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], {
    cwd: root,
    encoding: 'utf8',
  })
  const [info] = JSON.parse(out) as [{ filename: string; files: { path: string }[] }]
  files = new Set(info.files.map((f) => f.path))
  consumer = join(work, 'consumer')
  const modules = join(consumer, 'node_modules')
  mkdirSync(join(modules, 'hotpath'), { recursive: true })
  execFileSync('tar', [
    '-xzf',
    join(work, info.filename),
    '-C',
    join(modules, 'hotpath'),
    '--strip-components=1',
  ])
  for (const dep of [...Object.keys(pkg.dependencies), ...Object.keys(pkg.peerDependencies)]) {
    mkdirSync(dirname(join(modules, dep)), { recursive: true })
    symlinkSync(join(root, 'node_modules', dep), join(modules, dep), 'dir')
  }
  writeFileSync(join(consumer, 'package.json'), '{ "name": "consumer", "private": true }\n')
})

after(() => rmSync(work, { recursive: true, force: true }))

describe('npm pack', () => {
  test('every exports target is in the tarball', () => {
    const targets = Object.values(pkg.exports).flatMap((t) =>
      typeof t === 'string' ? [t] : Object.values(t),
    )
    assert.ok(targets.length > subpaths.length)
    for (const target of targets) assert.ok(files.has(target.slice(2)), `${target} is not in the tarball`)
  })

  test('ships LICENSE and the sources the source maps point at, not the reference server', () => {
    assert.ok(files.has('LICENSE'))
    for (const path of files) {
      assert.ok(!path.startsWith('dist/server/') && !path.startsWith('src/server/'), `${path} is shipped`)
      if (!path.endsWith('.js.map')) continue
      const map = JSON.parse(readFileSync(join(consumer, 'node_modules/hotpath', path), 'utf8')) as {
        sources: string[]
      }
      for (const source of map.sources) {
        const shipped = join(dirname(path), source)
        assert.ok(files.has(shipped), `${path} points at ${shipped}, which is not shipped`)
      }
    }
  })
})

describe('a scratch consumer', () => {
  test('imports every subpath (ESM)', () => {
    const script = specifiers
      .map(
        (s, i) =>
          `const m${i} = await import('${s}'); if (Object.keys(m${i}).length === 0) throw new Error('${s} is empty')`,
      )
      .join('\n')
    writeFileSync(join(consumer, 'esm.mjs'), `${script}\nconsole.log('ok')\n`)
    const out = execFileSync(process.execPath, ['esm.mjs'], { cwd: consumer, encoding: 'utf8' })
    assert.equal(out.trim(), 'ok')
  })

  test('require()s every subpath (CommonJS, Node >= 20.19 / 22.12)', () => {
    const script = specifiers
      .map((s) => `if (Object.keys(require('${s}')).length === 0) throw new Error('${s} is empty')`)
      .join('\n')
    writeFileSync(join(consumer, 'cjs.cjs'), `${script}\nconsole.log('ok')\n`)
    const out = execFileSync(process.execPath, ['cjs.cjs'], {
      cwd: consumer,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    assert.equal(out.trim(), 'ok')
  })

  test('uses the cache from the package', () => {
    const script = `import { createCache } from 'hotpath/cache'
const cache = createCache({ ttl: '1m' })
const v = await cache.getOrSet('k', async () => 41 + 1)
if (v !== 42 || cache.getSync('k') !== 42) throw new Error('unexpected ' + v)
await cache.close()
console.log('ok')
`
    writeFileSync(join(consumer, 'use.mjs'), script)
    assert.equal(
      execFileSync(process.execPath, ['use.mjs'], { cwd: consumer, encoding: 'utf8' }).trim(),
      'ok',
    )
  })
})
