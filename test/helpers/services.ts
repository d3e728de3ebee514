/**
 * Test helpers for the real services: URLs, unique key prefixes with cleanup, and private
 * Redis servers on free ports for tests that stop or pause Redis (never the shared one).
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import net from 'node:net'
import { Redis, type RedisOptions } from 'ioredis'
import { ServerProcess } from './server-process.js'

/** The shared Redis every integration test talks to. */
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
/** The shared PostgreSQL. */
export const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'

/** A key prefix no other test uses. */
export function uniquePrefix(name: string): string {
  return `test:${name}:${randomBytes(4).toString('hex')}:`
}

/** Deletes every key under `prefix` on the Redis at `url`. */
export async function cleanupPrefix(prefix: string, url = REDIS_URL): Promise<void> {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 })
  client.on('error', () => {})
  try {
    await client.connect()
    let cursor = '0'
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000)
      cursor = next
      if (keys.length > 0) await client.unlink(...keys)
    } while (cursor !== '0')
  } finally {
    client.disconnect()
  }
}

/** Redis clients and key prefixes of one test file; `close()` disconnects them and deletes the keys. */
export interface RedisScope {
  /** A client of the shared Redis (or `url`) whose errors are ignored (tests assert on results). */
  client(options?: RedisOptions, url?: string): Redis
  /** A unique key prefix, cleaned up by close(). */
  prefix(name: string): string
  close(): Promise<void>
}

/** A RedisScope: call `after(() => scope.close())` once per file. */
export function redisScope(): RedisScope {
  const clients: Redis[] = []
  const prefixes: string[] = []
  return {
    client(options = {}, url = REDIS_URL) {
      const c = new Redis(url, options)
      c.on('error', () => {})
      clients.push(c)
      return c
    },
    prefix(name) {
      const p = uniquePrefix(name)
      prefixes.push(p)
      return p
    },
    async close() {
      for (const c of clients) c.disconnect()
      for (const p of prefixes) await cleanupPrefix(p)
    },
  }
}

/** Finds a free TCP port on loopback. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo
      srv.close(() => resolve(port))
    })
  })
}

/** A private redis-server for chaos tests: it can be paused (SIGSTOP), resumed, stopped and restarted. */
export class PrivateRedis extends ServerProcess {
  constructor(readonly port: number) {
    super()
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`
  }

  static async start(): Promise<PrivateRedis> {
    const r = new PrivateRedis(await freePort())
    await r.start()
    return r
  }

  async start(): Promise<void> {
    this.child = spawn(
      'redis-server',
      ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      {
        stdio: 'ignore',
      },
    )
    await this.waitReady()
  }

  /** Resolves when the server answers PING. */
  async waitReady(): Promise<void> {
    const until = Date.now() + 10_000
    while (Date.now() < until) {
      const client = new Redis(this.url, {
        lazyConnect: true,
        maxRetriesPerRequest: 0,
        retryStrategy: () => null,
      })
      client.on('error', () => {})
      try {
        await client.connect()
        await client.ping()
        client.disconnect()
        return
      } catch {
        client.disconnect()
        await new Promise((r) => setTimeout(r, 50))
      }
    }
    throw new Error(`private redis-server on port ${this.port} did not start`)
  }
}

/** A private three-master Redis Cluster on free loopback ports, for tests of Cluster support. */
export class PrivateCluster {
  private readonly children: ChildProcess[] = []
  private constructor(
    readonly ports: number[],
    private readonly dir: string,
  ) {}

  static async start(masters = 3): Promise<PrivateCluster> {
    const { mkdtempSync } = await import('node:fs')
    const { tmpdir } = await import('node:os')
    const { join } = await import('node:path')
    const { execFileSync } = await import('node:child_process')
    const dir = mkdtempSync(join(tmpdir(), 'hp-cluster-'))
    const ports: number[] = []
    for (let i = 0; i < masters; i++) ports.push(await freePort())
    const cluster = new PrivateCluster(ports, dir)
    for (const port of ports) {
      cluster.children.push(
        spawn(
          'redis-server',
          [
            '--port',
            String(port),
            '--bind',
            '127.0.0.1',
            '--save',
            '',
            '--appendonly',
            'no',
            '--cluster-enabled',
            'yes',
            '--cluster-config-file',
            `nodes-${port}.conf`,
            '--dir',
            dir,
          ],
          { stdio: 'ignore' },
        ),
      )
    }
    for (const port of ports) await new PrivateRedis(port).waitReady()
    execFileSync(
      'redis-cli',
      [
        '--cluster',
        'create',
        ...ports.map((p) => `127.0.0.1:${p}`),
        '--cluster-replicas',
        '0',
        '--cluster-yes',
      ],
      { stdio: 'ignore' },
    )
    const until = Date.now() + 15_000
    for (;;) {
      const info = execFileSync('redis-cli', ['-p', String(ports[0]), 'cluster', 'info'], {
        encoding: 'utf8',
      })
      if (info.includes('cluster_state:ok')) break
      if (Date.now() > until) throw new Error('private Redis Cluster did not reach cluster_state:ok')
      await new Promise((r) => setTimeout(r, 100))
    }
    return cluster
  }

  /** Seed nodes for ioredis' Cluster constructor. */
  get nodes(): Array<{ host: string; port: number }> {
    return this.ports.map((port) => ({ host: '127.0.0.1', port }))
  }

  async stop(): Promise<void> {
    const { rmSync } = await import('node:fs')
    await Promise.all(
      this.children.map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null) return resolve()
            child.once('exit', () => resolve())
            child.kill('SIGKILL')
          }),
      ),
    )
    rmSync(this.dir, { recursive: true, force: true })
  }
}

/** The shared NATS (JetStream enabled). */
export const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222'

/** A JetStream stream name no other test uses (letters, digits, '_'). */
export function uniqueStream(name: string): string {
  return `test_${name.replace(/[^A-Za-z0-9_]/g, '_')}_${randomBytes(4).toString('hex')}`
}

/** Deletes the streams (and KV buckets) named `stream` or starting with `stream_` on the NATS at `url`. */
export async function cleanupNats(stream: string, url = NATS_URL): Promise<void> {
  const { connect } = await import('nats')
  const nc = await connect({ servers: url })
  try {
    const jsm = await nc.jetstreamManager()
    for await (const name of jsm.streams.names()) {
      const base = name.startsWith('KV_') ? name.slice(3) : name
      if (base === stream || base.startsWith(`${stream}_`)) await jsm.streams.delete(name)
    }
  } finally {
    await nc.close()
  }
}

/** Resolves once `ok()` holds (polled every 20 ms); fails the test naming `what` after `ms`. */
export async function waitUntil(
  what: string,
  ok: () => boolean | Promise<boolean>,
  ms = 5000,
): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}
