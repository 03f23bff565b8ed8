/**
 * The error vocabulary of the client API (contract: `{"error": {"code", "message"}}`).
 * 503 means the request was surely NOT applied; 504 means the outcome is unknown.
 */
export type ErrorCode =
  | 'bad_request'
  | 'unauthenticated'
  | 'not_found'
  | 'too_large'
  | 'unavailable'
  | 'timeout'
  | 'internal';

export const STATUS_OF: Readonly<Record<ErrorCode, number>> = {
  bad_request: 400,
  unauthenticated: 401,
  not_found: 404,
  too_large: 413,
  unavailable: 503,
  timeout: 504,
  internal: 500,
};

/**
 * Thrown (and only thrown) for input that did not come from a trusted source and does not
 * fit: the HTTP layer turns it into a 400 naming the field; nothing has been changed.
 */
export class BadRequestError extends Error {
  override name = 'BadRequestError';
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
  }
}
