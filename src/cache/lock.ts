/**
 * The opt-in cross-instance loader lock: SET NX PX on `<prefix>@l:<key>`, released by a Lua
 * compare-and-delete. The holder runs the loader; the others poll L2 for its value and run the
 * loader themselves only when the wait runs out or L2 is unavailable.
 */
import { randomBytes } from 'node:crypto'
import { ClosedError } from '../errors.js'
import type { CacheEngine } from './engine.js'
import { FAIL } from './l2-guard.js'
import type { L2Tier } from './l2-tier.js'
import { NOTHING } from './l2-tier.js'
import type { Load } from './single-flight.js'

/** Lock settings after defaults. */
export interface LockSettings {
  readonly ttl: number
  readonly wait: number
}

/** Runs `load` under the lock (or gets the holder's value); `run` is the unlocked loader run. */
export async function runLocked<T>(
  engine: CacheEngine,
  l2: L2Tier,
  lock: LockSettings,
  load: Load<T>,
  run: (load: Load<T>) => Promise<T>,
): Promise<T> {
  const token = randomBytes(12).toString('base64')
  const clock = engine.options.clock
  const deadline = clock.now() + lock.wait
  let pause = 5
  for (;;) {
    const got = await l2.store.lock(load.full, token, lock.ttl)
    if (got === FAIL) return run(load)
    if (got) {
      engine.count('lockAcquired')
      try {
        // the previous holder may have stored the value between our read and our lock
        const fresh = await l2.recheck(load.full, load.policy)
        if (fresh !== NOTHING) {
          load.answer = 'l2'
          return fresh as T
        }
        return await run(load)
      } finally {
        void l2.store.unlock(load.full, token)
      }
    }
    await new Promise<void>((r) => clock.setTimeout(r, pause))
    pause = Math.min(pause * 2, 50)
    const fresh = await l2.recheck(load.full, load.policy)
    if (fresh !== NOTHING) {
      engine.count('lockWaited')
      load.answer = 'l2'
      return fresh as T
    }
    if (engine.isClosed) throw new ClosedError(`cache "${engine.options.name}"`)
    if (clock.now() >= deadline) return run(load)
  }
}
