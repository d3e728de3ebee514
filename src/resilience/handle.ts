/** Which errors a policy handles: all, a predicate, or a list of error classes. */

/** An error class. */
// biome-ignore lint/suspicious/noExplicitAny: constructors of any arity
export type ErrorClass = abstract new (...args: any[]) => Error

/** Which errors count: a predicate, or error classes (instanceof). */
export type Handle = ((err: unknown) => boolean) | readonly ErrorClass[]

/** Turns a `Handle` option into a predicate; undefined handles every error. */
export function toPredicate(handle: Handle | undefined, option = 'handle'): (err: unknown) => boolean {
  if (handle === undefined) return () => true
  if (typeof handle === 'function') return handle as (err: unknown) => boolean
  if (Array.isArray(handle) && handle.every((c) => typeof c === 'function')) {
    const classes = handle as readonly ErrorClass[]
    return (err) => classes.some((c) => err instanceof c)
  }
  throw new TypeError(`${option} must be a predicate or an array of error classes; received ${typeof handle}`)
}
