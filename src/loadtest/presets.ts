/**
 * The seeds' presets: "users x messages per second per user" as an open model (the aggregate
 * rate) capped at one connection per user, with the seeds' pass criteria as default thresholds.
 * `stress` has no pass criteria of its own: it is the starting point of a breaking-point search.
 */
import type { ScenarioSpec } from './scenario.js'

/** Preset names. */
export type PresetName = 'light' | 'moderate' | 'heavy' | 'stress'

/** The presets, as scenarios (a target and steps come from the command line or a file). */
export const PRESETS: Readonly<Record<PresetName, Readonly<ScenarioSpec>>> = Object.freeze({
  light: {
    name: 'light',
    rate: 20,
    connections: 10,
    duration: '30s',
    thresholds: ['p99 < 1s', 'errors < 1%'],
  },
  moderate: {
    name: 'moderate',
    rate: 250,
    connections: 50,
    duration: '30s',
    thresholds: ['p99 < 2s', 'errors < 5%'],
  },
  heavy: {
    name: 'heavy',
    rate: 1000,
    connections: 100,
    duration: '30s',
    thresholds: ['p99 < 5s', 'errors < 10%'],
  },
  stress: { name: 'stress', rate: 4000, connections: 200, duration: '30s', thresholds: ['errors < 10%'] },
})

/** The preset called `name`, or undefined. */
export function preset(name: string): ScenarioSpec | undefined {
  return Object.hasOwn(PRESETS, name) ? { ...PRESETS[name as PresetName] } : undefined
}
