/**
 * Several instances, one view: each instance publishes its frames, alert transitions and
 * recommendations on one Redis pub/sub channel and reads everyone else's. Pub/sub (not a stream)
 * because a frame is worth nothing once the next one is out: a page that missed one shows a gap.
 * ioredis is loaded only when a URL is given.
 */

import type { InstanceRecommendations } from './dashboard.js'
import type { ResolvedShare, ShareRedisLike, ShareSubscriberLike } from './share-options.js'
import type { AlertTransition, Frame, InstanceTable } from './types.js'

/** A message between instances. */
export type ShareMessage =
  | { type: 'frame'; instance: string; data: Frame }
  | { type: 'alert'; instance: string; data: AlertTransition }
  | { type: 'recs'; instance: string; data: InstanceRecommendations }
  | { type: 'table'; instance: string; data: InstanceTable }

/** A live subscription. */
export interface Share {
  publish(m: ShareMessage): void
  close(): Promise<void>
}

/** Connects (publisher and subscriber) and subscribes to the channel. */
export async function connectShare(o: ResolvedShare, onMessage: (m: ShareMessage) => void): Promise<Share> {
  let pub: ShareRedisLike
  let owned: { quit(): Promise<unknown> } | undefined
  if (typeof o.redis === 'string') {
    const { Redis } = await import('ioredis')
    const client = new Redis(o.redis, { maxRetriesPerRequest: 1, lazyConnect: false })
    client.on('error', () => {})
    pub = client as unknown as ShareRedisLike
    owned = client
  } else pub = o.redis
  const sub: ShareSubscriberLike = pub.duplicate()
  ;(sub as unknown as { on(e: 'error', l: () => void): void }).on('error', () => {})
  sub.on('message', (channel, message) => {
    if (channel !== o.channel) return
    const m = parse(message)
    if (m !== undefined) onMessage(m)
  })
  await sub.subscribe(o.channel)
  return {
    publish(m) {
      // a lost frame is a gap in a chart; Redis trouble must never reach the app, and frames
      // must not pile up in the client's offline queue while Redis is away
      const status = (pub as { status?: unknown }).status
      if (status !== undefined && status !== 'ready') return
      pub.publish(o.channel, JSON.stringify(m)).catch(() => {})
    },
    async close() {
      await sub.quit().catch(() => {})
      await owned?.quit().catch(() => {})
    },
  }
}

/** Parses a message from another instance; undefined when it is not one (ignored). */
export function parse(message: string): ShareMessage | undefined {
  let m: unknown
  try {
    m = JSON.parse(message)
  } catch {
    return undefined
  }
  if (m === null || typeof m !== 'object') return undefined
  const { type, instance, data } = m as { type?: unknown; instance?: unknown; data?: unknown }
  if (typeof instance !== 'string' || instance === '*' || data === null || typeof data !== 'object')
    return undefined
  if (type === 'frame') {
    const f = data as Frame
    if (typeof f.t !== 'number' || typeof f.http !== 'object' || !Array.isArray(f.http?.b)) return undefined
    if (f.instance !== instance) return undefined
    return { type, instance, data: f }
  }
  if (type === 'table') {
    const t = data as InstanceTable
    if (typeof t.id !== 'string' || !Array.isArray(t.rows) || t.instance !== instance) return undefined
    return { type, instance, data: t }
  }
  if (type === 'alert' || type === 'recs') return { type, instance, data } as ShareMessage
  return undefined
}
