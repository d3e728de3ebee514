/**
 * A bounded ring of items: a fresh page gets the last `capacity` items at once, and memory never
 * grows past them however long the server runs.
 */

/** A fixed-capacity ring; pushing past capacity drops the oldest item. */
export class Ring<T> {
  private readonly items: Array<T | undefined>
  private start = 0
  private count = 0

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(`ring capacity must be an integer >= 1; received ${capacity}`)
    }
    this.items = new Array<T | undefined>(capacity)
  }

  /** Items held. */
  get size(): number {
    return this.count
  }

  /** Adds an item, dropping the oldest when full. */
  push(item: T): void {
    if (this.count < this.capacity) {
      this.items[(this.start + this.count) % this.capacity] = item
      this.count++
    } else {
      this.items[this.start] = item
      this.start = (this.start + 1) % this.capacity
    }
  }

  /** The newest item. */
  last(): T | undefined {
    return this.count === 0 ? undefined : this.items[(this.start + this.count - 1) % this.capacity]
  }

  /** Oldest first; with `after`, only the items it accepts from the first one it accepts on. */
  toArray(from?: (item: T) => boolean): T[] {
    const out: T[] = []
    let taking = from === undefined
    for (let i = 0; i < this.count; i++) {
      const item = this.items[(this.start + i) % this.capacity] as T
      if (!taking && (from as (item: T) => boolean)(item)) taking = true
      if (taking) out.push(item)
    }
    return out
  }
}
