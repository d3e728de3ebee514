/**
 * The side effect the NATS crash tests count: HINCRBY of the message payload in a Redis hash, so
 * a message lost has no field and a repeated side effect has a count above 1.
 */
import type { Redis } from 'ioredis'
import type { Message } from '../../../src/bus/index.js'

/** A batch handler recording one side effect per message under `key`. */
export function countEffects(redis: Redis, key: string, delayMs = 0) {
  return async (messages: Message[]): Promise<void> => {
    const pipe = redis.pipeline()
    for (const m of messages) pipe.hincrby(key, String(m.payload), 1)
    await pipe.exec()
    if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs))
  }
}

/** Messages with a side effect, and how many had it more than once. */
export async function effectCounts(
  redis: Redis,
  key: string,
): Promise<{ handled: number; repeated: number }> {
  const counts = Object.values(await redis.hgetall(key)).map(Number)
  return { handled: counts.length, repeated: counts.filter((c) => c > 1).length }
}
