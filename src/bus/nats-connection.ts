/**
 * The NATS transport's connection: dialled until a server answers (or the transport closes), and
 * its health without I/O on the caller's path, for readiness checks.
 * The client's status events say at once when the connection drops or comes back; a background
 * PING (`rtt()`) every `intervalMs` with its own deadline catches a server that keeps the socket
 * open and answers nothing. `check()` only reads what both recorded, so it answers at once.
 */
import type { ConnectionOptions, JetStreamClient, JetStreamManager, NatsConnection } from 'nats'
import { ClosedError } from '../errors.js'
import type { Clock } from '../time.js'
import { BusTransportError } from './errors.js'
import type { ResolvedNatsOptions } from './nats-options.js'
import type { NatsStore } from './nats-store.js'
import type { TransportHealth } from './types.js'

/** What the transport runs on once connected and its streams exist. */
export interface Conn {
  nc: NatsConnection
  js: JetStreamClient
  jsm: JetStreamManager
  store: NatsStore
}

/** Time between two PINGs, and how long one may go unanswered. */
const INTERVAL_MS = 2000
const TIMEOUT_MS = 500

interface Ping {
  ok: boolean
  at: number
  rttMs: number
  error?: string
}

/**
 * Connects to NATS, trying again every `waitMs` while no server answers (as the client's
 * `waitOnFirstConnect` does, except that `stopped()` ends the wait): a transport closed before
 * NATS came up must not wait for it. Rejects with the last error once `stopped()`.
 */
export async function dial(
  nats: { connect(o: ConnectionOptions): Promise<NatsConnection> },
  options: ConnectionOptions,
  stopped: () => boolean,
  sleep: (ms: number) => Promise<void>,
  waitMs = 2000,
): Promise<NatsConnection> {
  for (;;) {
    try {
      const nc = await nats.connect(options)
      if (!stopped()) return nc
      await nc.close()
      throw new Error('closed while connecting')
    } catch (err) {
      if (stopped()) throw err
    }
    await sleep(waitMs)
  }
}

/**
 * The transport's own connection to `o.servers` (loading `nats`), waited for while no server
 * answers; rejects with E_CLOSED once `stopped()`, E_BUS_TRANSPORT when `nats` is missing.
 */
export async function openConnection(
  o: ResolvedNatsOptions,
  stopped: () => boolean,
  sleep: (ms: number) => Promise<void>,
): Promise<NatsConnection> {
  let nats: typeof import('nats')
  try {
    nats = await import('nats')
  } catch (err) {
    throw new BusTransportError(
      'the NATS transport needs the optional peer dependency "nats" (v2)',
      'npm install nats@2',
      err,
    )
  }
  try {
    const options = {
      servers: o.servers as string[],
      name: `hotpath-bus:${o.stream}`,
      maxReconnectAttempts: -1,
    }
    return await dial(nats, options, stopped, sleep)
  } catch (err) {
    if (stopped()) throw new ClosedError(`NATS transport "${o.stream}"`)
    throw new BusTransportError(
      `connecting to NATS at ${String(o.servers)} failed`,
      'check the URL and that nats-server runs with JetStream (-js)',
      err,
    )
  }
}

/** Connection state and PINGs of one NATS connection. */
export class NatsHealth {
  private nc: NatsConnection | undefined
  private connection: TransportHealth['connection'] = 'connecting'
  private last: Ping | undefined
  private next: unknown
  private deadline: unknown
  private inFlight = false
  private stopped = false

  constructor(private readonly clock: Clock) {}

  /** Follows `nc` from now on (its status events and PINGs). */
  watch(nc: NatsConnection): void {
    this.nc = nc
    this.connection = nc.isClosed() ? 'closed' : 'connected'
    void (async () => {
      for await (const s of nc.status()) {
        if (s.type === 'disconnect' || s.type === 'reconnecting') this.connection = 'reconnecting'
        else if (s.type === 'reconnect') {
          this.connection = 'connected'
          void this.probe() // readiness follows a reconnection without waiting an interval
        }
      }
    })().catch(() => {})
    void nc.closed().then(() => {
      this.connection = 'closed'
    })
    void this.probe()
  }

  /** Healthy when connected and the last PING, recent enough, was answered. */
  check(): TransportHealth {
    const connection = this.connection
    if (connection !== 'connected') return { ok: false, connection }
    const last = this.last
    if (last === undefined) return { ok: false, connection, error: 'first PING pending' }
    const checkedAgoMs = this.clock.now() - last.at
    // a PING older than three intervals means the probes themselves are stuck
    if (!last.ok || checkedAgoMs > 3 * (INTERVAL_MS + TIMEOUT_MS)) {
      return { ok: false, connection, checkedAgoMs, error: last.error ?? 'no recent PING' }
    }
    return { ok: true, connection, rttMs: last.rttMs, checkedAgoMs }
  }

  private async probe(): Promise<void> {
    const nc = this.nc
    if (nc === undefined || this.stopped || this.inFlight) return
    this.clock.clearTimeout(this.next)
    this.inFlight = true
    const start = this.clock.now()
    // the PING's outcome, or the deadline's: an error message, or undefined when answered
    const error = await Promise.race([
      nc.rtt().then(
        () => undefined,
        (e: unknown) => (e instanceof Error ? e.message : String(e)),
      ),
      new Promise<string>((resolve) => {
        this.deadline = this.clock.setBackgroundTimeout(
          () => resolve(`no PONG within ${TIMEOUT_MS} ms`),
          TIMEOUT_MS,
        )
      }),
    ])
    this.clock.clearTimeout(this.deadline)
    this.inFlight = false
    const at = this.clock.now()
    this.last = { ok: error === undefined, at, rttMs: at - start, ...(error === undefined ? {} : { error }) }
    if (!this.stopped) this.next = this.clock.setBackgroundTimeout(() => void this.probe(), INTERVAL_MS)
  }

  /** Stops the PINGs. */
  stop(): void {
    this.stopped = true
    this.connection = 'closed'
    this.clock.clearTimeout(this.next)
    this.clock.clearTimeout(this.deadline)
  }
}
