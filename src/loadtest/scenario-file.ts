/**
 * Reads a scenario file: JSON or YAML (parsed with line positions, so a bad field is reported as
 * `file:line: field: problem`), or a JS/TS module whose default export (or `scenario` export) is
 * the scenario object. A TypeScript module needs a TypeScript-aware Node (tsx, or Node >= 23.6).
 */
import { readFile } from 'node:fs/promises'
import { extname, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { isMap, isScalar, isSeq, LineCounter, type Node, parseDocument } from 'yaml'
import { ScenarioError } from './errors.js'
import { type Locate, type ScenarioSpec, validateScenario } from './scenario.js'

const MODULE_EXTENSIONS = ['.js', '.mjs', '.cjs', '.ts', '.mts', '.cts']

/** Loads and validates the scenario in `file`. */
export async function loadScenarioFile(file: string): Promise<ScenarioSpec> {
  const ext = extname(file).toLowerCase()
  if (MODULE_EXTENSIONS.includes(ext)) return loadModule(file)
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err) {
    throw new ScenarioError({ file, field: '(file)' }, `cannot be read: ${(err as Error).message}`)
  }
  return parseScenarioText(text, file)
}

/** Parses JSON or YAML text (JSON is YAML) and validates it, with lines in the errors. */
export function parseScenarioText(text: string, file: string): ScenarioSpec {
  const lines = new LineCounter()
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true })
  const first = doc.errors[0]
  if (first !== undefined) {
    const line = first.linePos?.[0].line ?? (first.pos[0] >= 0 ? lines.linePos(first.pos[0]).line : undefined)
    throw new ScenarioError({ file, line, field: '(syntax)' }, first.message.split('\n')[0] ?? 'syntax error')
  }
  const locate: Locate = (path) => {
    let node: unknown = doc.contents
    let offset: number | undefined = (doc.contents as Node | null)?.range?.[0]
    for (const seg of path) {
      if (isMap(node)) {
        const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(seg))
        if (pair === undefined) break
        offset = (pair.key as Node).range?.[0] ?? offset
        node = pair.value
      } else if (isSeq(node) && typeof seg === 'number') {
        const item = node.items[seg] as Node | undefined
        if (item === undefined) break
        offset = item.range?.[0] ?? offset
        node = item
      } else break
    }
    return offset === undefined ? undefined : lines.linePos(offset).line
  }
  return validateScenario(doc.toJS(), file, locate)
}

async function loadModule(file: string): Promise<ScenarioSpec> {
  let mod: Record<string, unknown>
  try {
    mod = (await import(pathToFileURL(resolve(file)).href)) as Record<string, unknown>
  } catch (err) {
    const code = (err as { code?: unknown }).code
    const hint =
      code === 'ERR_UNKNOWN_FILE_EXTENSION'
        ? ' (this Node cannot load TypeScript: run through tsx, `node --import tsx`, or write the scenario as .mjs)'
        : ''
    throw new ScenarioError({ file, field: '(module)' }, `cannot be loaded: ${(err as Error).message}${hint}`)
  }
  const scenario = mod.default ?? mod.scenario
  if (scenario === undefined)
    throw new ScenarioError(
      { file, field: '(module)' },
      'exports no scenario: export default { steps: [...] } (or export const scenario)',
    )
  return validateScenario(scenario, file)
}
