/**
 * Subscriptions on their way: a transport's subscribe awaits its connection and set-up before it
 * starts a reader, and an unsubscribe (a bus closed) or the transport's close can come first.
 * They must win: the subscribe then starts nothing (regression: the unsubscribe found nothing to
 * stop, the reader started afterwards, and a reference server stopped right after it started
 * never exited). Shared by the Redis and NATS transports.
 */
export class PendingSubscribes {
  private readonly marks = new Map<string, { cancelled: boolean }>()
  private closing = false

  /**
   * Runs `setUp` for `inbox`: its result when the subscription may start, undefined when an
   * unsubscribe or the close came first (what `setUp` subscribed to is then the caller's to undo).
   */
  async run<T>(inbox: string, setUp: () => Promise<T>): Promise<T | undefined> {
    const mark = { cancelled: false }
    this.marks.set(inbox, mark)
    let value: T
    try {
      value = await setUp()
    } finally {
      if (this.marks.get(inbox) === mark) this.marks.delete(inbox)
    }
    return mark.cancelled || this.closing ? undefined : value
  }

  /** An unsubscribe of `inbox`: a subscribe of it still on its way starts nothing. */
  cancel(inbox: string): void {
    const mark = this.marks.get(inbox)
    if (mark !== undefined) mark.cancelled = true
  }

  /** The transport is closing: no subscribe on its way starts anything. */
  close(): void {
    this.closing = true
  }

  /** The transport is closing (a subscribe that started nothing then fails with E_CLOSED). */
  get isClosing(): boolean {
    return this.closing
  }
}
