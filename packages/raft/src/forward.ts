/**
 * What a follower asks of the leader on a client's behalf, and the answers it gets back.
 * Plain data, so that it crosses the wire as msgpack.
 */
import { BadRequestError } from '@playground/core';
import type { Command } from './core/types.js';
import type { ApplyResult } from './statemachine.js';
import { parseCommand } from './wire.js';

export interface ForwardIncr {
  readonly command: Command;
  readonly deadlineMs: number;
}

export type ForwardReply =
  | { readonly kind: 'applied'; readonly result: ApplyResult }
  | { readonly kind: 'index'; readonly index: number }
  /** Surely not applied. */
  | { readonly kind: 'unavailable'; readonly message: string }
  | { readonly kind: 'not_leader'; readonly leader: string | null }
  /** May or may not have been applied. */
  | { readonly kind: 'unknown'; readonly message: string };

export function parseForwardIncr(body: unknown): ForwardIncr {
  if (body === null || typeof body !== 'object') throw new BadRequestError('body', 'must be an object');
  const raw = body as Record<string, unknown>;
  const command = parseCommand(raw.command);
  if (command === null) throw new BadRequestError('command', 'must be an increment');
  const deadlineMs = typeof raw.deadlineMs === 'number' ? raw.deadlineMs : Number.NaN;
  return { command, deadlineMs };
}
