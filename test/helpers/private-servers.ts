/**
 * Private servers that keep their data across a kill -9 and a restart on the same port, for the
 * bus reconnect tests (never the shared ones): a nats-server with JetStream file storage, and a
 * redis-server with an fsync-always append-only file (the helpers' PrivateRedis keeps nothing).
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Bus, Transport } from '../../src/bus/index.js'
import { ServerProcess } from './server-process.js'
import { freePort } from './services.js'

/** A server process on a free loopback port whose data directory outlives its restarts. */
export class PrivateServer extends ServerProcess {
  private constructor(
    private readonly bin: string,
    private readonly args: (port: number, dir: string) => string[],
    private readonly scheme: string,
    readonly port: number,
    readonly dir: string,
  ) {
    super()
  }

  /**
   * nats-server with JetStream (unless `jetStream: false`), its store in a temporary directory,
   * on a free port or on `port`.
   */
  static nats(options: { jetStream?: boolean; port?: number } = {}): Promise<PrivateServer> {
    const js = options.jetStream === false ? [] : ['-js']
    return PrivateServer.launch('nats-server', 'nats', options.port, (port, dir) => [
      ...js,
      '-a',
      '127.0.0.1',
      '-p',
      String(port),
      '-sd',
      dir,
    ])
  }

  /** redis-server writing every command to its AOF before answering (appendfsync always). */
  static redis(): Promise<PrivateServer> {
    return PrivateServer.launch('redis-server', 'redis', undefined, (port, dir) => [
      '--dir',
      dir,
      '--appendonly',
      'yes',
      '--appendfsync',
      'always',
      '--bind',
      '127.0.0.1',
      '--port',
      String(port),
    ])
  }

  private static async launch(
    bin: string,
    scheme: string,
    port: number | undefined,
    args: (port: number, dir: string) => string[],
  ): Promise<PrivateServer> {
    const dir = mkdtempSync(join(tmpdir(), `hp-${scheme}-`))
    const server = new PrivateServer(bin, args, scheme, port ?? (await freePort()), dir)
    await server.start()
    return server
  }

  get url(): string {
    return `${this.scheme}://127.0.0.1:${this.port}`
  }

  /** Starts the server (again) on its port and data directory; resolves when it accepts connections. */
  async start(): Promise<void> {
    const child = spawn(this.bin, this.args(this.port, this.dir), { stdio: 'ignore' })
    this.child = child
    const until = Date.now() + 10_000
    while (!(await accepts(this.port))) {
      if (child.exitCode !== null)
        throw new Error(`${this.bin} on port ${this.port} exited (${child.exitCode})`)
      if (Date.now() > until) throw new Error(`${this.bin} on port ${this.port} did not start`)
      await new Promise((r) => setTimeout(r, 25))
    }
  }

  /** Closes `buses` and then `transports` (those on this server), stops the server and removes its data. */
  async close(buses: Bus[] = [], transports: Transport[] = []): Promise<void> {
    for (const b of buses) await b.close({ drain: false }).catch(() => {})
    for (const t of transports) await t.close().catch(() => {})
    await this.stop()
    rmSync(this.dir, { recursive: true, force: true })
  }
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1')
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
  })
}
