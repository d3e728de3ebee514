/** A socket and an event-loop source for the batcher's unit tests: no I/O. */
import type { WebSocketLike } from '../../../src/ws/index.js'
import { decodeFrame } from '../../../src/ws/index.js'

/** Records every frame; its buffer level and state are set by the test. */
export class FakeSocket implements WebSocketLike {
  readyState = 1
  bufferedAmount = 0
  frames: (string | Uint8Array)[] = []
  closedWith: number | undefined
  terminated = false
  private closers: (() => void)[] = []

  send(data: string | Uint8Array): void {
    this.frames.push(data)
  }

  close(code?: number): void {
    this.closedWith = code
    this.readyState = 2
  }

  terminate(): void {
    this.terminated = true
    this.emitClose()
  }

  on(_event: 'close', listener: () => void): void {
    this.closers.push(listener)
  }

  emitClose(): void {
    this.readyState = 3
    for (const c of this.closers) c()
  }

  /** Every message of every JSON frame, in order. */
  messages(): unknown[] {
    return this.frames.flatMap((f) => decodeFrame(f as string))
  }
}

/** An event-loop source whose load the test sets. */
export function fakeLoop(delayMs = 0, utilization = 0) {
  return {
    delayMs,
    delayStartedAt: 0,
    utilization,
    heapUsedBytes: 0,
    retain: () => () => {},
  }
}

/** Lets setImmediate callbacks run. */
export const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))
