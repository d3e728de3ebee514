/**
 * `broadcaster(options)`: one queue for a group of connections. A batch is encoded once and the
 * same buffer is written to every member that keeps up (Phoenix's "fastlane": serialize once per
 * topic, not per subscriber); a member that is slow or still has messages of its own waiting takes
 * the batch's messages into its own queue instead, where they conflate and drop like any other, so
 * one slow client never holds the group back and order per connection is kept.
 */
import { Batched, type WebSocketLike } from './batched.js'
import type { BatchedOptions, ResolvedBatchedOptions } from './options.js'
import { resolveBatchedOptions } from './options.js'
import { BatchQueue, type Pending } from './queue.js'

/** A broadcast group. */
export class Broadcaster<T = unknown> extends BatchQueue<T> {
  /** The members by socket: a socket is in the group once. */
  private readonly members = new Map<WebSocketLike, Batched<T>>()
  /** Each member's close listener, taken off its socket when it leaves (or the group closes). */
  private readonly leaving = new Map<Batched<T>, () => void>()

  constructor(options: ResolvedBatchedOptions<T>) {
    super(options)
  }

  /** Connections in the group. */
  get size(): number {
    return this.members.size
  }

  /**
   * Adds a connection (a socket, which gets a batcher with the group's options, or a batcher made
   * with the same options); it leaves the group when its socket closes. Returns its batcher, for
   * messages to it alone. A socket already in the group keeps its batcher (it is returned), so it
   * never gets a message twice.
   */
  add(socket: WebSocketLike | Batched<T>): Batched<T> {
    const given = socket instanceof Batched ? socket : undefined
    const existing = this.members.get(given?.socket ?? (socket as WebSocketLike))
    if (existing !== undefined) {
      if (given !== undefined && given !== existing) {
        throw new TypeError(
          'hotpath/ws: this socket is already in the group with another batcher; remove() it first',
        )
      }
      return existing
    }
    if (given !== undefined && given.format !== this.format) {
      throw new TypeError(
        `hotpath/ws: a ${given.format} batcher cannot join a ${this.format} group (the group writes its frames as they are); make it with the group's options`,
      )
    }
    const member = given ?? new Batched<T>(socket as WebSocketLike, this.o)
    // its socket already closed: it would never leave the group
    if (member.isClosed) return member
    this.members.set(member.socket, member)
    const leave = () => this.remove(member)
    this.leaving.set(member, leave)
    member.socket.on?.('close', leave)
    return member
  }

  /** Removes a connection from the group (its own queue is untouched). */
  remove(member: Batched<T>): boolean {
    if (this.members.get(member.socket) !== member) return false
    this.members.delete(member.socket)
    this.forget(member)
    return true
  }

  private forget(member: Batched<T>): void {
    const leave = this.leaving.get(member)
    if (leave === undefined) return
    this.leaving.delete(member)
    member.socket.removeListener?.('close', leave)
  }

  /** Writes what is pending, then stops the group (members stay open). */
  close(): void {
    this.flush()
    this.discard()
    for (const member of this.members.values()) this.forget(member)
    this.members.clear()
  }

  protected socketBuffered(): number {
    return 0
  }

  protected blocked(): boolean {
    return false
  }

  protected overflowed(): void {}

  protected write(
    frame: string | Uint8Array,
    count: number,
    waitedMs: number,
    queue: Pending<T>[],
    start: number,
    end: number,
  ): void {
    const buffer = typeof frame === 'string' ? Buffer.from(frame) : frame
    for (const m of this.members.values()) m.deliver(buffer, count, waitedMs, queue, start, end)
  }
}

/** A broadcast group: `send()` once, every member gets it, the batch is encoded once. */
export function broadcaster<T = unknown>(
  options?: BatchedOptions<T> | ResolvedBatchedOptions<T>,
): Broadcaster<T> {
  return new Broadcaster(resolveBatchedOptions(options))
}
