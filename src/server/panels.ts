/**
 * The reference server's extra dashboard panels: the database (queries, cached reads), the bus
 * (messages handled, queued) and the live WebSocket stream (messages vs frames: the sends saved).
 */
import type { DashboardPanel } from '../dashboard/index.js'

/** Per-second rates of counters read at each tick (the first tick shows nothing). */
function rates(
  read: () => Record<string, number>,
): (ctx: { dt: number }) => Record<string, number> | undefined {
  let last: Record<string, number> | undefined
  return ({ dt }) => {
    const now = read()
    const prev = last
    last = now
    if (prev === undefined || dt <= 0) return undefined
    const out: Record<string, number> = {}
    for (const k in now) out[k] = Math.max(0, ((now[k] as number) - (prev[k] ?? 0)) / dt)
    return out
  }
}

/** The database panel: statements run, cached reads served, invalidations, per second. */
export function dbPanel(
  stats: () => { queries: number; cacheHits: number; invalidations: number },
): DashboardPanel {
  return {
    id: 'db',
    title: 'Database (per second)',
    unit: '/s',
    sample: rates(() => {
      const s = stats()
      return { statements: s.queries, 'cache hits': s.cacheHits, invalidations: s.invalidations }
    }),
  }
}

/** The bus panel: messages handled per second across the agents. */
export function busPanel(stats: () => Record<string, { handled: number }>): DashboardPanel {
  return {
    id: 'bus',
    title: 'Agents on the bus: messages handled (per second)',
    unit: '/s',
    sample: rates(() => {
      const out: Record<string, number> = {}
      for (const [name, s] of Object.entries(stats())) out[name] = s.handled
      return out
    }),
  }
}

/** The live-updates panel: messages and WebSocket frames per second (the gap is the sends saved). */
export function livePanel(stats: () => { messages: number; frames: number }): DashboardPanel {
  return {
    id: 'live',
    title: 'Live updates over WebSocket (per second)',
    unit: '/s',
    sample: rates(() => {
      const s = stats()
      return { messages: s.messages, frames: s.frames }
    }),
  }
}
