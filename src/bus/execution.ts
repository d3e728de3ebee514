/**
 * Running one message: the handler's checks (schema, rate limit, breaker, processed-set), the
 * call (with its timeout), and the outcome handed back to the transport: ack (and the reply to
 * a request), retry with backoff, a delay that costs no attempt (breaker open, rate limited),
 * or the dead letters. A handler with none of the options takes a path with no await.
 */
import { isHotpathError, TimeoutError } from '../errors.js'
import type { Events } from '../events.js'
import { errorMessage } from '../options.js'
import type { Message, MessageHandler } from './api.js'
import type { BatchProcessor } from './batch-processor.js'
import { processedKeyOf } from './envelope.js'
import { BusInvalidPayloadError, isNonRetryable } from './errors.js'
import type { ResolvedBusOptions, ResolvedHandlerOptions } from './options.js'
import type { BusCounters, BusEvents } from './stats.js'
import type { DeadLetterReason, Envelope, Transport } from './types.js'

/** A registered handler. */
export interface HandlerEntry {
  type: string
  fn: MessageHandler | undefined
  batch: BatchProcessor<Envelope> | undefined
  o: ResolvedHandlerOptions
  /** An idempotent batch handler's messages found processed when their batch started. */
  skipped?: WeakSet<Envelope> | undefined
}

const deliveriesError = (env: Envelope): string =>
  `"${env.type}" was delivered ${env.attempt} times and ${env.attempt - 1} consumers holding it stopped before an outcome (crash, kill, exit); it may crash its handler: inspect it, then replay it`

/** Runs messages for one bus. */
export class Execution {
  handlers = new Map<string, HandlerEntry>()

  constructor(
    private readonly transport: Transport,
    private readonly o: ResolvedBusOptions,
    private readonly c: BusCounters,
    private readonly events: Events<BusEvents>,
    private readonly later: (env: Envelope, delay: number) => void,
  ) {}

  /** Runs `env`; a promise when the handler is asynchronous. */
  run(env: Envelope): Promise<void> | undefined {
    const now = this.o.clock.now()
    this.c.dispatch(env.p, now - env.queuedAt)
    if (env.attempt > 1) this.c.redeliveries++
    const h = this.handlers.get(env.type)
    if (h === undefined) {
      this.noHandler(env)
      return undefined
    }
    const o = h.o
    if (env.attempt > o.retry.attempts) {
      // only a take-over raises attempts past the limit (a failure is buried at the limit): the
      // consumers before died holding this message, so it is likely what killed them
      const err = new Error(deliveriesError(env))
      env.attempt-- // the last delivery is not an attempt: the handler does not run
      this.bury(env, 'max-deliveries', err)
      return undefined
    }
    if (
      h.fn === undefined ||
      o.schema !== undefined ||
      o.idempotent ||
      o.rateLimit !== undefined ||
      o.breaker !== undefined ||
      o.timeout !== undefined ||
      env.timeout !== undefined
    ) {
      return this.runChecked(h, env, now)
    }
    let r: unknown
    try {
      r = h.fn(env.payload, env as Message)
    } catch (err) {
      this.fail(h, env, err)
      return undefined
    }
    if (r instanceof Promise) return this.settle(h, env, r, now)
    this.ok(env, r, now)
    return undefined
  }

  private async settle(h: HandlerEntry, env: Envelope, r: Promise<unknown>, t0: number): Promise<void> {
    try {
      this.ok(env, await r, t0)
    } catch (err) {
      this.fail(h, env, err)
    }
  }

  private async runChecked(h: HandlerEntry, env: Envelope, t0: number): Promise<void> {
    const o = h.o
    try {
      if (o.schema !== undefined) {
        let r = o.schema['~standard'].validate(env.payload)
        if (r instanceof Promise) r = await r
        if (r.issues !== undefined) {
          this.bury(env, 'invalid', new BusInvalidPayloadError(env.type, r.issues))
          return
        }
        env.payload = r.value
      }
      if (o.rateLimit !== undefined) {
        const d = o.rateLimit.consumeSync(env.type)
        if (!d.allowed) {
          if (d.exceedsLimit === true) this.bury(env, 'non-retryable', new Error('cost above the rate limit'))
          else this.defer(env, d.retryAfterMs)
          return
        }
      }
      if (h.batch !== undefined) {
        // the worker moves on: the batch holds the message until its handler settled. An
        // idempotent batch checks the processed-set when it starts and marks its messages
        // before it finishes (batch-handler.ts)
        const skipped = h.skipped
        h.batch.add(env, env.batchKey ?? '').then(
          () => {
            if (skipped?.has(env)) this.processedHit(env)
            else this.ok(env, undefined, t0)
          },
          (err) => this.fail(h, env, err),
        )
        return
      }
      if (o.idempotent && (await this.transport.isProcessed(processedKeyOf(env)))) {
        this.processedHit(env)
        return
      }
      const value =
        o.breaker !== undefined ? await o.breaker.execute(() => this.call(h, env)) : await this.call(h, env)
      await this.done(h, env, value, t0)
    } catch (err) {
      this.fail(h, env, err)
    }
  }

  private async done(h: HandlerEntry, env: Envelope, value: unknown, t0: number): Promise<void> {
    if (h.o.idempotent) await this.transport.markProcessed(processedKeyOf(env), this.o.processedWindow)
    this.ok(env, value, t0)
  }

  private call(h: HandlerEntry, env: Envelope): Promise<unknown> | unknown {
    const ms = env.timeout ?? h.o.timeout
    const fn = h.fn as MessageHandler
    if (ms === undefined) return fn(env.payload, env as Message)
    const ac = new AbortController()
    const clock = this.o.clock
    let timer: unknown
    return Promise.race([
      Promise.resolve(fn(env.payload, env as Message, ac.signal)),
      new Promise<never>((_, reject) => {
        timer = clock.setTimeout(() => {
          const err = new TimeoutError(
            `handler for "${env.type}" did not finish within ${ms}ms; raise its timeout or make it faster`,
          )
          ac.abort(err)
          reject(err)
        }, ms)
      }),
    ]).finally(() => clock.clearTimeout(timer))
  }

  /** A delivery the processed-set had: acknowledged without running. */
  private processedHit(env: Envelope): void {
    this.c.processedHits++
    this.transport.ack(env)
  }

  private ok(env: Envelope, value: unknown, t0: number): void {
    const c = this.c
    c.handled++
    c.handlerRuns++
    c.handlerMs += this.o.clock.now() - t0
    this.transport.ack(env)
    if (env.replyTo !== undefined) {
      void this.transport.reply(env.replyTo, { corr: env.corr as string, ok: true, value }).catch(() => {})
    }
  }

  private fail(h: HandlerEntry, env: Envelope, err: unknown): void {
    if (isHotpathError(err, 'E_CIRCUIT_OPEN')) {
      this.defer(env, err.retryAfter ?? 1000)
      return
    }
    this.c.failures++
    if (this.events.has('failure')) this.events.emit('failure', { id: env.id, type: env.type, error: err })
    if (isNonRetryable(err)) {
      this.bury(env, 'non-retryable', err)
      return
    }
    const r = h.o.retry
    if (env.attempt >= r.attempts) {
      this.bury(env, isHotpathError(err, 'E_TIMEOUT') ? 'timeout' : 'failed', err)
      return
    }
    const delay = r.backoff.next(env.attempt, 0)
    env.attempt++
    this.c.retries++
    if (this.events.has('retry')) {
      this.events.emit('retry', {
        id: env.id,
        type: env.type,
        attempt: env.attempt,
        delayMs: delay,
        error: errorMessage(err),
      })
    }
    this.later(env, delay)
  }

  /** Delays a message without spending an attempt (breaker open, rate limited). */
  private defer(env: Envelope, delay: number): void {
    this.c.deferred++
    this.later(env, Math.max(1, delay))
  }

  private noHandler(env: Envelope): void {
    if (env.bc === true) {
      // a broadcast copy nobody here listens to is not an error
      this.transport.ack(env)
      return
    }
    this.bury(env, 'no-handler', new Error(`no handler for "${env.type}" on "${env.to}"`))
  }

  /** Moves a message to the dead letters (and fails its request, if any). */
  bury(env: Envelope, reason: DeadLetterReason, err: unknown): void {
    const error = errorMessage(err)
    this.c.deadLettered++
    this.transport.deadLetter({
      id: env.id,
      envelope: env,
      reason,
      attempts: env.attempt,
      error,
      at: this.o.clock.now(),
    })
    if (this.events.has('deadLetter')) {
      this.events.emit('deadLetter', { id: env.id, type: env.type, reason, attempts: env.attempt, error })
    }
    if (env.replyTo !== undefined) {
      const code =
        reason === 'no-handler' ? 'E_BUS_NO_ROUTE' : reason === 'invalid' ? 'E_BUS_INVALID' : 'E_BUS_HANDLER'
      void this.transport
        .reply(env.replyTo, {
          corr: env.corr as string,
          ok: false,
          error: { message: error, code, reason, type: env.type },
        })
        .catch(() => {})
    }
  }
}
