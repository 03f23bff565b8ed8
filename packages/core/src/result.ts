/**
 * Expected failures are values, not exceptions: a caller must look at `ok` before it can
 * touch the value, so an unknown outcome cannot be mistaken for a success or a failure.
 */
export type Result<T, E> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: E };

export const ok = <T>(value: T): { readonly ok: true; readonly value: T } => ({ ok: true, value });
export const err = <E>(error: E): { readonly ok: false; readonly error: E } => ({ ok: false, error });

/**
 * The three outcomes of any operation on a replicated system (Jepsen's ok / fail / info):
 * - `ok`: applied, acknowledged;
 * - `fail`: surely NOT applied (HTTP 503, 400, ...);
 * - `info`: unknown, it may or may not have been applied (a timeout, a dropped connection).
 */
export type OutcomeType = 'ok' | 'fail' | 'info';
