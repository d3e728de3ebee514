/**
 * The page's files: read once when the plugin is registered, from src/dashboard/assets (next to
 * this module under tsx, or the package's src/ when running from dist/), and uPlot from its npm
 * package. No build step and nothing from a CDN. Each file is kept plain and gzipped.
 */
import { createHash } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'

/** One served file. */
export interface Asset {
  type: string
  body: Buffer
  gzip: Buffer
  etag: string
}

const TYPES: Record<string, string> = {
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  html: 'text/html; charset=utf-8',
}

function assetsDir(): string {
  for (const rel of ['./assets/', '../../src/dashboard/assets/']) {
    const dir = fileURLToPath(new URL(rel, import.meta.url))
    if (existsSync(`${dir}app.js`)) return dir
  }
  throw new Error('hotpath/dashboard: the page assets (src/dashboard/assets) are missing from the package')
}

function asset(name: string, body: Buffer): Asset {
  const ext = name.slice(name.lastIndexOf('.') + 1)
  return {
    type: TYPES[ext] ?? 'application/octet-stream',
    body,
    gzip: gzipSync(body, { level: 9 }),
    etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`,
  }
}

/** The page template and its files, by name. */
export interface PageFiles {
  /** index.html with `%BASE%`, `<!--STYLES-->` and `<!--SCRIPTS-->` still in it. */
  template: string
  /** app.js, app.css, uplot.js, uplot.css. */
  files: Map<string, Asset>
  /** Raw text of each file (for the self-contained snapshot). */
  text: Map<string, string>
}

let loaded: PageFiles | undefined

/** Loads the page files (once per process). */
export function loadPageFiles(): PageFiles {
  if (loaded !== undefined) return loaded
  const dir = assetsDir()
  const require = createRequire(import.meta.url)
  const sources: Array<[string, string]> = [
    ['app.js', `${dir}app.js`],
    ['app.css', `${dir}app.css`],
    ['uplot.js', require.resolve('uplot/dist/uPlot.iife.min.js')],
    ['uplot.css', require.resolve('uplot/dist/uPlot.min.css')],
  ]
  const files = new Map<string, Asset>()
  const text = new Map<string, string>()
  for (const [name, path] of sources) {
    const body = readFileSync(path)
    files.set(name, asset(name, body))
    text.set(name, body.toString('utf8'))
  }
  loaded = { template: readFileSync(`${dir}index.html`, 'utf8'), files, text }
  return loaded
}

/** The live page: the template pointing at the served files under `base`. */
export function livePage(files: PageFiles, base: string): Asset {
  const styles = ['uplot.css', 'app.css'].map((n) => `<link rel="stylesheet" href="${base}/assets/${n}">`)
  const scripts = ['uplot.js', 'app.js'].map((n) => `<script src="${base}/assets/${n}"></script>`)
  return asset('index.html', Buffer.from(fill(files.template, base, styles.join(''), scripts.join(''))))
}

/** One self-contained HTML file: every file inlined and the state embedded. */
export function snapshotPage(files: PageFiles, state: unknown): string {
  const t = (n: string) => files.text.get(n) as string
  // escaped, not removed: a string holding U+2028 or U+2029 keeps them
  const json = JSON.stringify(state)
    .replace(/</g, '\\u003c')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029')
  const styles = `<style>${t('uplot.css')}\n${t('app.css')}</style>`
  const scripts =
    `<script>${t('uplot.js').replace(/<\/script/gi, '<\\/script')}</script>` +
    `<script>window.HOTPATH_SNAPSHOT=${json}</script>` +
    `<script>${t('app.js').replace(/<\/script/gi, '<\\/script')}</script>`
  return fill(files.template, '', styles, scripts)
}

// %BASE% is filled in the template before the files and the state go in: a '%BASE%' inside the
// embedded state (a route, a panel's series) used to be replaced too
function fill(template: string, base: string, styles: string, scripts: string): string {
  return template
    .replace(/%BASE%/g, () => base)
    .replace('<!--STYLES-->', () => styles)
    .replace('<!--SCRIPTS-->', () => scripts)
}
