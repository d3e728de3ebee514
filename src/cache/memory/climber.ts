/**
 * Hill climbing on the admission window's size (Einziger, Eytan, Friedman, Manes, "Adaptive
 * Software Cache Management", Middleware 2018; the climber Caffeine runs).
 *
 * A fixed 1% window suits frequency-skewed work, where admission by the sketch beats recency;
 * recency-heavy work (a working set that moves on) wants a large window, which behaves like LRU.
 * So the window is resized by trial: after each sample of requests, if the hit ratio improved
 * since the last sample the climber keeps moving the same way, otherwise it turns back. Steps
 * shrink geometrically so the size settles, and a large change in the hit ratio (the workload
 * changed) restarts them at full size.
 */

/**
 * Fraction of the capacity moved per step at first and after a restart. Caffeine moves 6.25% per
 * sample of 10x capacity. On a working set that shifts in bursts, a sample that holds one burst
 * more than the last one reads as a worse hit ratio and turns the climber back, so it wandered
 * (5-9 points below LRU over three seeds); 15% per 8x capacity averages over more bursts and
 * still climbs fast enough: 0.6-0.7 points below LRU on the same seeds, Zipf and scan traces
 * 6-10 points above it (bench/cache-traces.ts).
 */
const STEP = 0.15
/** Each step is this fraction of the one before, so the window settles. */
const DECAY = 0.98
/** A hit-ratio change this large means the workload changed: steps restart at full size. */
const RESTART = 0.05

/** Decides how much the window should grow (positive) or shrink (negative) after each sample. */
export class HillClimber {
  /** Requests per sample (8x capacity: see STEP). */
  readonly sampleSize: number
  private readonly fullStep: number
  private step: number
  private previous = 0

  constructor(capacity: number) {
    this.sampleSize = Math.max(8 * capacity, 1000)
    this.fullStep = STEP * capacity
    this.step = this.fullStep
  }

  /** The signed window-size change after a sample of `hits` and `misses` (not rounded). */
  adjust(hits: number, misses: number): number {
    const rate = hits / (hits + misses)
    const change = rate - this.previous
    // keep the direction of the last step when it helped (or did no harm), else turn back
    const amount = change >= 0 ? this.step : -this.step
    this.step = Math.abs(change) >= RESTART ? (amount >= 0 ? 1 : -1) * this.fullStep : DECAY * amount
    this.previous = rate
    return amount
  }
}
