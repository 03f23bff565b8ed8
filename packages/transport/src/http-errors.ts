/**
 * Every error this server answers has the contract's shape `{"error": {"code", "message"}}`,
 * as JSON, on every route (client, admin and peer alike), so curl and the bench read them the
 * same way.
 */
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { ErrorCode } from '@playground/core';

export interface ErrorBody {
  readonly error: { readonly code: ErrorCode; readonly message: string };
}

export function errorBody(code: ErrorCode, message: string): ErrorBody {
  return { error: { code, message } };
}

export function errorResponse(c: Context, status: ContentfulStatusCode, code: ErrorCode, message: string): Response {
  return c.json(errorBody(code, message), status);
}
