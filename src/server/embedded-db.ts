/**
 * The reference server's embedded database: an in-memory PGlite started from a snapshot of a
 * fresh data directory. PGlite's initdb runs inside its WebAssembly memory, which never shrinks:
 * a process that runs it keeps ~700 MB resident for good (measured: RSS 780 MB after a fresh
 * `PGlite.create()`, 425 MB when started from a snapshot with 16 MB of shared buffers). So the
 * snapshot is made once, by a short-lived child process, and kept in the user's cache directory
 * (`$XDG_CACHE_HOME/hotpath`, else `~/.cache/hotpath`); later starts load it. If the snapshot
 * cannot be made or read, the server falls back to a fresh in-process PGlite.
 *
 * PGlite's WebAssembly is compiled with V8's baseline compiler only (`--liftoff-only`, set before
 * the module is compiled): V8's optimizing tier keeps a second copy of every hot function's code
 * and its compiler's working memory, ~100 MB resident for PGlite, and on this workload bought no
 * speed (a point query on a 200-row table: 7.5k queries/s with either, Node 20; see
 * bench/README.md, "server"). The flag is process-wide: the only other WebAssembly the server
 * runs is Node's own (undici's HTTP parser, used by `fetch` for alert webhooks), a light use.
 */
import { spawn } from 'node:child_process'
import { mkdir, readFile, rename, stat, unlink } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { homedir, tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { setFlagsFromString } from 'node:v8'
import type { PGliteLike } from '../db/index.js'

/** PGlite's own start parameters plus smaller shared buffers (a demo catalogue of 200 rows). */
const START_PARAMS = [
  '--single',
  '-F',
  '-O',
  '-j',
  '-c',
  'search_path=public',
  '-c',
  'exit_on_error=false',
  '-c',
  'log_checkpoints=false',
  '-c',
  'max_worker_processes=0',
  '-c',
  'max_parallel_workers=0',
  '-c',
  'max_parallel_workers_per_gather=0',
  '-c',
  'io_method=sync',
  '-c',
  'max_parallel_maintenance_workers=0',
  '-c',
  'shared_buffers=16MB',
]

/** What the server uses of a PGlite instance (hotpath/db takes it as `connection`). */
export type EmbeddedPGlite = PGliteLike

interface PGliteModule {
  PGlite: { create(options: { loadDataDir?: Blob; startParams?: string[] }): Promise<EmbeddedPGlite> }
}

function cacheDir(): string {
  const xdg = process.env.XDG_CACHE_HOME
  const base = xdg !== undefined && xdg !== '' ? xdg : join(homedir() || tmpdir(), '.cache')
  return join(base, 'hotpath')
}

/** Opens the embedded database; `warn` hears why the snapshot could not be used. */
export async function openEmbeddedPGlite(warn: (message: string) => void): Promise<EmbeddedPGlite> {
  const require = createRequire(import.meta.url)
  const entry = require.resolve('@electric-sql/pglite')
  const { version } = JSON.parse(await readFile(join(dirname(entry), '..', 'package.json'), 'utf8')) as {
    version: string
  }
  setFlagsFromString('--liftoff-only')
  const mod = (await import('@electric-sql/pglite')) as unknown as PGliteModule
  const file = join(cacheDir(), `pglite-${version}-datadir.tar`)
  try {
    const ok = await stat(file).then(
      (s) => s.isFile() && s.size > 0,
      () => false,
    )
    if (!ok) await makeSnapshot(pathToFileURL(entry).href, file)
    const buf = await readFile(file)
    return await mod.PGlite.create({ loadDataDir: new Blob([buf]), startParams: START_PARAMS })
  } catch (err) {
    warn(
      `the embedded database starts without its snapshot (${file}): ${(err as Error).message}; it will hold ~700 MB more memory`,
    )
    return mod.PGlite.create({ startParams: START_PARAMS })
  }
}

/** Runs initdb in a child process and leaves the pristine data directory at `file`. */
async function makeSnapshot(moduleUrl: string, file: string): Promise<void> {
  await mkdir(dirname(file), { recursive: true })
  const partial = `${file}.${process.pid}.partial`
  const code = `
    const { PGlite } = await import(${JSON.stringify(moduleUrl)})
    const { writeFile } = await import('node:fs/promises')
    const lite = await PGlite.create({ startParams: ${JSON.stringify(START_PARAMS)} })
    const dump = await lite.dumpDataDir('none')
    await writeFile(${JSON.stringify(partial)}, Buffer.from(await dump.arrayBuffer()))
    await lite.close()
  `
  const exit = await new Promise<number | null>((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', code], {
      stdio: ['ignore', 'ignore', 'pipe'],
    })
    let stderr = ''
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      if (stderr.length < 2000) stderr += d
    })
    child.once('error', reject)
    child.once('exit', (c) =>
      c === 0 ? resolve(c) : reject(new Error(`snapshot process exited ${c}: ${stderr.trim()}`)),
    )
  })
  if (exit !== 0) throw new Error(`snapshot process exited ${exit}`)
  // rename is atomic: a concurrent start reads either no file or a whole one
  await rename(partial, file).catch(async (err: unknown) => {
    await unlink(partial).catch(() => {})
    throw err
  })
}
