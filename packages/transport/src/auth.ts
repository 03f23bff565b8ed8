/**
 * Peer message authentication: HMAC-SHA256 keyed by the cluster secret, over
 * `from\nto\ntype\nts\n` followed by the raw body bytes. The secret itself never travels.
 * Binding `to` and `type` into the MAC stops a captured message from being replayed to another
 * node or as another message type; the timestamp window (±5 min) bounds replays in time.
 */
import { createHmac, createSecretKey, timingSafeEqual, createHash, type KeyObject } from 'node:crypto';
import type { NodeId } from '@playground/core';

export const PEER_HEADER_FROM = 'x-peer-from';
export const PEER_HEADER_TO = 'x-peer-to';
export const PEER_HEADER_TS = 'x-peer-ts';
export const PEER_HEADER_SIG = 'x-peer-sig';

/** Accepted clock difference between sender and receiver (and so the replay window). */
export const PEER_TS_WINDOW_MS = 5 * 60 * 1000;

const SIG_HEX_LENGTH = 64;

export class PeerSigner {
  readonly #key: KeyObject;

  constructor(secret: string) {
    // The key object is built once: no per-message key derivation.
    this.#key = createSecretKey(Buffer.from(secret, 'utf8'));
  }

  /** Hex HMAC-SHA256 over the canonical prefix and the body. */
  sign(from: NodeId, to: NodeId, type: string, ts: string, body: Uint8Array): string {
    return this.#digest(from, to, type, ts, body).toString('hex');
  }

  /** Constant-time check of a hex signature; false for anything malformed. */
  verify(from: NodeId, to: NodeId, type: string, ts: string, body: Uint8Array, signature: string): boolean {
    if (signature.length !== SIG_HEX_LENGTH || !/^[0-9a-f]+$/i.test(signature)) return false;
    const expected = this.#digest(from, to, type, ts, body);
    return timingSafeEqual(Buffer.from(signature, 'hex'), expected);
  }

  /** The raw MAC, for the peer stream's frames (`nonce` = `<stream id>.<seq>`, see frames.ts). */
  mac(from: NodeId, to: NodeId, type: string, nonce: string, body: Uint8Array): Buffer {
    return this.#digest(from, to, type, nonce, body);
  }

  /** Constant-time check of a raw MAC. */
  verifyMac(from: NodeId, to: NodeId, type: string, nonce: string, body: Uint8Array, mac: Uint8Array): boolean {
    return mac.length === SIG_HEX_LENGTH / 2 && timingSafeEqual(mac, this.#digest(from, to, type, nonce, body));
  }

  #digest(from: NodeId, to: NodeId, type: string, ts: string, body: Uint8Array): Buffer {
    return createHmac('sha256', this.#key).update(`${from}\n${to}\n${type}\n${ts}\n`).update(body).digest();
  }
}

/** Is `ts` (milliseconds since the epoch, as sent) within the window around `nowMs`? */
export function isFreshTimestamp(ts: string, nowMs: number): boolean {
  if (!/^\d{1,16}$/.test(ts)) return false;
  return Math.abs(Number(ts) - nowMs) <= PEER_TS_WINDOW_MS;
}

/**
 * Constant-time comparison of a presented bearer token with the secret. Both are hashed first
 * so that the comparison does not leak the secret's length either.
 */
export function bearerMatches(authorization: string | undefined, secret: string): boolean {
  if (authorization === undefined) return false;
  const m = /^Bearer (.+)$/.exec(authorization);
  if (!m) return false;
  const presented = createHash('sha256').update(m[1] as string).digest();
  const expected = createHash('sha256').update(secret).digest();
  return timingSafeEqual(presented, expected);
}
