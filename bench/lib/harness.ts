/**
 * A small benchmark harness: ours and the peer's are measured in the same process run,
 * interleaved in rounds so drift (JIT, GC, the other core) hits both alike; medians are reported.
 */
import { performance } from 'node:perf_hooks'

/** One printed comparison row. */
export interface Row {
  suite: string
  name: string
  ours: number
  peer: number | undefined
  peerName: string | undefined
  unit: string
  /** True when a bigger figure is better (ops/s); false for latencies and bytes. */
  higherIsBetter: boolean
  target?: string
  note?: string
}

const rows: Row[] = []

/** Records a row and prints it at once. */
export function report(row: Row): void {
  rows.push(row)
  const ratio = row.peer === undefined ? '' : `  ratio ${ratioOf(row).toFixed(2)}x`
  const peer = row.peer === undefined ? '' : `  ${row.peerName}: ${fmt(row.peer)} ${row.unit}`
  const target = row.target ? `  [target ${row.target}]` : ''
  const note = row.note ? `  (${row.note})` : ''
  console.log(`  ${row.name}: ours ${fmt(row.ours)} ${row.unit}${peer}${ratio}${target}${note}`)
}

/** ours/peer when higher is better, peer/ours otherwise: above 1 means we are ahead. */
export function ratioOf(row: Row): number {
  if (row.peer === undefined) return Number.NaN
  return row.higherIsBetter ? row.ours / row.peer : row.peer / row.ours
}

/** All rows recorded so far. */
export function allRows(): readonly Row[] {
  return rows
}

/** Formats a number compactly. */
export function fmt(n: number): string {
  if (!Number.isFinite(n)) return String(n)
  const abs = Math.abs(n)
  if (abs >= 1e6) return `${(n / 1e6).toFixed(2)}M`
  if (abs >= 1e4) return `${(n / 1e3).toFixed(1)}k`
  if (abs >= 100) return n.toFixed(0)
  if (abs >= 1) return n.toFixed(2)
  return n.toFixed(4)
}

/** A synchronous operation run `n` times by the harness. */
export type SyncBody = (n: number) => void
/** An asynchronous operation run `n` times by the harness. */
export type AsyncBody = (n: number) => Promise<void>

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)] as number
}

async function opsPerSec(body: SyncBody | AsyncBody, n: number): Promise<number> {
  const t0 = performance.now()
  const r = body(n)
  if (r instanceof Promise) await r
  const ms = performance.now() - t0
  return (n / ms) * 1000
}

async function calibrate(body: SyncBody | AsyncBody, targetMs: number): Promise<number> {
  let n = 1000
  for (;;) {
    const t0 = performance.now()
    const r = body(n)
    if (r instanceof Promise) await r
    const ms = performance.now() - t0
    if (ms >= targetMs / 4 || n >= 1e9) return Math.max(1000, Math.round((n * targetMs) / Math.max(ms, 0.01)))
    n *= 4
  }
}

/**
 * Measures ops/s of each body, interleaving rounds. Each body receives an iteration count and
 * runs the operation that many times (loop inside the body so call overhead is the op's own).
 */
export async function compareOps(
  bodies: Record<string, SyncBody | AsyncBody>,
  { rounds = 7, roundMs = 150 }: { rounds?: number; roundMs?: number } = {},
): Promise<Record<string, number>> {
  const names = Object.keys(bodies)
  const counts: Record<string, number> = {}
  for (const name of names) counts[name] = await calibrate(bodies[name] as SyncBody, roundMs)
  const samples: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]))
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? names : [...names].reverse()
    for (const name of order) {
      ;(samples[name] as number[]).push(await opsPerSec(bodies[name] as SyncBody, counts[name] as number))
    }
  }
  return Object.fromEntries(names.map((n) => [n, median(samples[n] as number[])]))
}

/** Runs `count` async calls with `concurrency` callers in flight; returns ops/s. */
export async function concurrentOps(
  op: (i: number) => Promise<unknown>,
  { count, concurrency }: { count: number; concurrency: number },
): Promise<number> {
  let next = 0
  const t0 = performance.now()
  async function worker(): Promise<void> {
    while (next < count) {
      const i = next++
      await op(i)
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  return (count / (performance.now() - t0)) * 1000
}

/** Forces a full GC when node runs with --expose-gc (npm run bench does). */
export function gc(): void {
  const g = (globalThis as { gc?: () => void }).gc
  if (g) {
    g()
    g()
  }
}
