/**
 * A growable ring buffer: O(1) push, shift and peek with no array re-indexing, which keeps the
 * memory transport's queues flat at millions of messages per second (an Array's shift() is
 * O(n) once V8 leaves the fast path).
 */
export class Deque<T> {
  private buf: Array<T | undefined>
  private head = 0
  private n = 0

  constructor(capacity = 16) {
    let c = 16
    while (c < capacity) c *= 2
    this.buf = new Array(c)
  }

  /** Items held. */
  get size(): number {
    return this.n
  }

  /** Appends at the back. */
  push(item: T): void {
    if (this.n === this.buf.length) this.grow()
    this.buf[(this.head + this.n) & (this.buf.length - 1)] = item
    this.n++
  }

  /** Removes from the front. */
  shift(): T | undefined {
    if (this.n === 0) return undefined
    const item = this.buf[this.head]
    this.buf[this.head] = undefined
    this.head = (this.head + 1) & (this.buf.length - 1)
    this.n--
    return item
  }

  /** The front item, not removed. */
  peek(): T | undefined {
    return this.n === 0 ? undefined : this.buf[this.head]
  }

  /** Removes from the back. */
  pop(): T | undefined {
    if (this.n === 0) return undefined
    const i = (this.head + this.n - 1) & (this.buf.length - 1)
    const item = this.buf[i]
    this.buf[i] = undefined
    this.n--
    return item
  }

  private grow(): void {
    const old = this.buf
    const next = new Array<T | undefined>(old.length * 2)
    for (let i = 0; i < this.n; i++) next[i] = old[(this.head + i) & (old.length - 1)]
    this.buf = next
    this.head = 0
  }
}
