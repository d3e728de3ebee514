/** Headless Chromium for the dashboard's browser tests (Debian's chromium, playwright-core). */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type BrowserContext, chromium, type Page } from 'playwright-core'

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
]

/** A Chromium with a fresh profile; every request outside `allowed` is aborted and recorded. */
export async function launch(allowed: string): Promise<{
  context: BrowserContext
  page: Page
  outside: string[]
  close(): Promise<void>
}> {
  const profile = mkdtempSync(join(tmpdir(), 'hotpath-chromium-'))
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1400, height: 1000 },
  })
  const outside: string[] = []
  await context.route('**/*', (route) => {
    const url = route.request().url()
    if (url.startsWith(allowed) || url.startsWith('data:')) return route.continue()
    outside.push(url)
    return route.abort()
  })
  const page = context.pages()[0] ?? (await context.newPage())
  return {
    context,
    page,
    outside,
    async close() {
      await context.close()
      rmSync(profile, { recursive: true, force: true })
    },
  }
}

/** Where to save screenshots (DASHBOARD_SCREENSHOTS=<dir>), or undefined. */
export const shots = process.env.DASHBOARD_SCREENSHOTS
if (shots !== undefined) mkdirSync(shots, { recursive: true })

/** The page's document, typed for the few calls made here (this tsconfig has no DOM types). */
export type Doc = {
  getElementById(id: string): { textContent: string | null; dataset: Record<string, string> } | null
}
