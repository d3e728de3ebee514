/**
 * The embedded PGlite in a worker thread. PGlite runs PostgreSQL in WebAssembly on the thread
 * that calls it, synchronously: on the server's own thread every statement, and the JavaScript
 * that encodes and decodes its protocol messages, stops the event loop (a write took ~0.4 ms of
 * it, so 1,000 writes/s held the loop ~40% of the time and queued every other request behind
 * them). In a worker the database works on the second core and the server's thread only posts
 * statements and receives rows.
 *
 * `WorkerPGlite` is a `PGliteLike` (what hotpath/db takes as `connection`): `query()` posts the
 * statement and resolves with the rows, or rejects with an Error carrying the server's fields
 * (`code` is the SQLSTATE, plus `severity`, `detail`, `hint`, `position`, ...), as PGlite's own
 * errors do. The worker is referenced only while a statement is in flight, so an idle database
 * never keeps the process alive and an awaited query always gets its answer. It takes up to
 * `pipeline` statements at once; the worker answers them in order.
 */
import { once } from 'node:events'
import { Worker } from 'node:worker_threads'
import type { PGliteLike } from '../db/index.js'

/** What the worker needs to open the database. */
export interface DbWorkerData {
  /** The file URL of `@electric-sql/pglite`'s entry point. */
  moduleUrl: string
  /** The data-directory snapshot to start from; null: a fresh initdb. */
  snapshot: string | null
  startParams: readonly string[]
}

type Reply =
  | { kind: 'ready' }
  | { kind: 'warn'; message: string }
  | { kind: 'fatal'; message: string }
  | ({ kind: 'result'; id: number; results?: Result[] } & Partial<Result>)
  | { kind: 'error'; id: number; message: string; fields: Record<string, string | number> }

/**
 * The worker's code (CommonJS, evaluated): opens the database from the snapshot (a fresh one, with
 * a warning, when the snapshot cannot be read), then answers statements one message each. Only
 * string and number fields of an error cross over (they are what a PostgreSQL error carries).
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads')
const { readFile } = require('node:fs/promises')
;(async () => {
  const { PGlite } = await import(workerData.moduleUrl)
  const startParams = workerData.startParams
  let db
  try {
    if (workerData.snapshot === null) throw new Error('no snapshot')
    const buf = await readFile(workerData.snapshot)
    db = await PGlite.create({ loadDataDir: new Blob([buf]), startParams })
  } catch (err) {
    if (workerData.snapshot !== null) parentPort.postMessage({ kind: 'warn', message: String(err && err.message || err) })
    db = await PGlite.create({ startParams })
  }
  parentPort.on('message', (m) => {
    if (m.close === true) {
      db.close().finally(() => process.exit(0))
      return
    }
    const plain = (r) => ({ rows: r.rows, affectedRows: r.affectedRows, fields: r.fields.map((f) => ({ name: f.name })) })
    const run = m.exec === true ? db.exec(m.text).then((rs) => ({ results: rs.map(plain) })) : db.query(m.text, m.params).then(plain)
    run.then(
      (r) => parentPort.postMessage({ kind: 'result', id: m.id, ...r }),
      (err) => {
        const fields = {}
        for (const k of Object.keys(err || {})) {
          const v = err[k]
          if (typeof v === 'string' || typeof v === 'number') fields[k] = v
        }
        parentPort.postMessage({ kind: 'error', id: m.id, message: String(err && err.message || err), fields })
      },
    )
  })
  parentPort.postMessage({ kind: 'ready' })
})().catch((err) => parentPort.postMessage({ kind: 'fatal', message: String(err && err.message || err) }))
`

/** One statement's answer, as PGlite gives it. */
interface Result {
  rows: unknown[]
  affectedRows?: number
  fields: Array<{ name: string }>
}

interface Pending {
  resolve: (r: Result | Result[]) => void
  reject: (err: Error) => void
}

/** A PGlite in a worker thread, used through `query()` and `close()`. */
export class WorkerPGlite implements PGliteLike {
  /**
   * Statements handed over at once (hotpath/db's PGlite driver): the worker runs them back to
   * back instead of idling while each answer waits for the server's event loop.
   */
  readonly pipeline = 8
  private seq = 0
  private readonly pending = new Map<number, Pending>()
  /** Why the database cannot answer (closed, or the worker died); undefined while it can. */
  private gone: Error | undefined
  private readonly exited: Promise<unknown>
  private closing: Promise<void> | undefined

  private constructor(private readonly worker: Worker) {
    this.exited = once(worker, 'exit').catch(() => {})
    worker.on('message', (m: Reply) => this.onReply(m))
    worker.on('error', (err) => this.fail(err))
    worker.on('exit', (code) => this.fail(new Error(`the embedded database's worker exited (code ${code})`)))
  }

  /** Starts the worker and resolves once the database is open; `warn` hears a snapshot that could not be used. */
  static async open(data: DbWorkerData, warn: (message: string) => void): Promise<WorkerPGlite> {
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: data })
    const db = new WorkerPGlite(worker)
    await new Promise<void>((resolve, reject) => {
      const onMessage = (m: Reply) => {
        if (m.kind === 'warn') warn(m.message)
        else if (m.kind === 'ready' || m.kind === 'fatal') {
          worker.off('message', onMessage)
          worker.off('exit', onExit)
          if (m.kind === 'ready') resolve()
          else reject(new Error(`the embedded database did not open: ${m.message}`))
        }
      }
      const onExit = (code: number) =>
        reject(new Error(`the embedded database's worker exited (code ${code})`))
      worker.on('message', onMessage)
      worker.once('exit', onExit)
    }).catch(async (err: unknown) => {
      await worker.terminate()
      throw err
    })
    worker.unref()
    return db
  }

  get closed(): boolean {
    return this.gone !== undefined
  }

  query<T>(
    text: string,
    params?: unknown[],
  ): Promise<{ rows: T[]; affectedRows?: number; fields: Array<{ name: string }> }> {
    return this.send({ text, params: params ?? [] }) as Promise<Result & { rows: T[] }>
  }

  /** Runs one or more statements without parameters (PGlite's `exec`): one result each. */
  exec(text: string): Promise<Result[]> {
    return this.send({ text, exec: true }) as Promise<Result[]>
  }

  private send(message: { text: string; params?: unknown[]; exec?: true }): Promise<Result | Result[]> {
    if (this.gone !== undefined) return Promise.reject(this.gone)
    const id = ++this.seq
    return new Promise((resolve, reject) => {
      try {
        this.worker.postMessage({ id, ...message })
      } catch (err) {
        // a parameter that cannot be copied to the worker (a function, a symbol): nothing was sent
        reject(
          new TypeError(
            `a query parameter cannot be sent to the embedded database: ${(err as Error).message}`,
          ),
        )
        return
      }
      if (this.pending.size === 0) this.worker.ref()
      this.pending.set(id, { resolve, reject })
    })
  }

  private onReply(m: Reply): void {
    if (m.kind !== 'result' && m.kind !== 'error') return
    const p = this.pending.get(m.id)
    if (p === undefined) return
    this.pending.delete(m.id)
    if (this.pending.size === 0) this.worker.unref()
    if (m.kind === 'result')
      p.resolve(m.results ?? { rows: m.rows ?? [], affectedRows: m.affectedRows, fields: m.fields ?? [] })
    else p.reject(Object.assign(new Error(m.message), m.fields))
  }

  /** Every statement in flight fails with `err`; later ones fail at once. */
  private fail(err: Error): void {
    this.gone ??= err
    for (const p of this.pending.values()) p.reject(err)
    this.pending.clear()
  }

  /** Closes the database and stops the worker (terminated if it has not exited within 5 s). */
  close(): Promise<void> {
    this.closing ??= this.shutdown()
    return this.closing
  }

  private async shutdown(): Promise<void> {
    const alive = this.gone === undefined
    this.fail(new Error('the embedded database is closed'))
    if (!alive) {
      await this.worker.terminate()
      return
    }
    this.worker.ref()
    this.worker.postMessage({ close: true })
    const timer = setTimeout(() => void this.worker.terminate(), 5000)
    await this.exited
    clearTimeout(timer)
  }
}
