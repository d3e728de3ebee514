/**
 * Several instances, one view: each instance publishes its frames, alert transitions and
 * recommendations on one Redis pub/sub channel and reads everyone else's. Pub/sub (not a stream)
 * because a frame is worth nothing once the next one is out: a page that missed one shows a gap.
 * ioredis is loaded only when a URL is given.
 */

import type { InstanceRecommendations } from './dashboard.js'
import { checkAlert, checkFrame, checkRecommendations, checkTable, INSTANCE_ID } from './share-check.js'
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

/**
 * The longest message read from the channel, in characters: a frame of 1,000 routes is about
 * 200 KB. Anything longer is not parsed at all.
 */
export const MAX_MESSAGE_CHARS = 1024 * 1024

/**
 * Parses a message from another instance; undefined when it is not one (ignored). Everything in it
 * is checked and rebuilt (share-check.ts): anyone who can publish on the channel can send it.
 */
export function parse(message: string): ShareMessage | undefined {
  if (typeof message !== 'string' || message.length > MAX_MESSAGE_CHARS) return undefined
  let m: unknown
  try {
    m = JSON.parse(message)
  } catch {
    return undefined
  }
  if (m === null || typeof m !== 'object') return undefined
  const { type, instance, data } = m as { type?: unknown; instance?: unknown; data?: unknown }
  if (typeof instance !== 'string' || !INSTANCE_ID.test(instance)) return undefined
  if (type === 'frame') {
    const f = checkFrame(data, instance)
    return f === undefined ? undefined : { type, instance, data: f }
  }
  if (type === 'table') {
    const t = checkTable(data, instance)
    return t === undefined ? undefined : { type, instance, data: t }
  }
  if (type === 'alert') {
    const a = checkAlert(data, instance)
    return a === undefined ? undefined : { type, instance, data: a }
  }
  if (type === 'recs') {
    const r = checkRecommendations(data, instance)
    return r === undefined ? undefined : { type, instance, data: r }
  }
  return undefined
}
