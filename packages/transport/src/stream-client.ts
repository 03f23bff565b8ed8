/**
 * The outbound half of the peer stream (wire format: frames.ts): one connection to one peer,
 * upgraded from HTTP/1.1, carrying every message this node sends it, each answered by seq.
 *
 * Outcomes are values, as PeerTransport's: `timeout` when no reply came in time, `unreachable`
 * when the connection could not be made or was lost with the message in it (the peer may have
 * acted: callers treat it as unknown, like a timeout), `remote_error` for an HTTP refusal of
 * the upgrade or an error frame. A stream that ends fails everything in it at once and is not
 * used again; the caller opens a fresh one for the next message.
 *
 * A dead connection can look alive (a peer stopped, a cable pulled: TCP retransmits for
 * minutes). So when a message times out and nothing at all has come back on the stream since
 * it was sent, the stream is presumed dead and cut; the next message opens a new connection.
 */
import { randomBytes } from 'node:crypto';
import { request, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { unpack } from 'msgpackr';
import { err, ok, type NodeId, type PeerAddress, type Result, type RpcFailure } from '@playground/core';
import { PEER_HEADER_FROM, PEER_HEADER_SIG, PEER_HEADER_TO, PEER_HEADER_TS, type PeerSigner } from './auth.js';
import { Corker } from './corker.js';
import {
  FrameReader,
  FrameTooLargeError,
  MAC_BYTES,
  PEER_HEADER_STREAM,
  STREAM_PATH,
  STREAM_PROTOCOL,
  STREAM_TYPE,
  decodeReply,
  encodeRequest,
  maxReplyFrame,
} from './frames.js';

export interface OutboundStreamOptions {
  readonly self: NodeId;
  readonly peer: PeerAddress;
  /** null = insecure: frames carry a zero MAC. */
  readonly signer: PeerSigner | null;
  readonly maxReplyBytes: number;
}

interface Waiter {
  readonly resolve: (r: Result<unknown, RpcFailure>) => void;
  readonly timer: NodeJS.Timeout;
}

/** Sequence numbers are u32 on the wire; a stream retires well before it runs out. */
const MAX_SEQ = 0x7fff_ffff;
const ZERO_MAC = new Uint8Array(MAC_BYTES);
/** The body of a refused upgrade is read up to this size (it is a short JSON error). */
const MAX_REFUSAL_BYTES = 64 * 1024;

export class OutboundStream {
  readonly #o: OutboundStreamOptions;
  readonly #id = randomBytes(16).toString('hex');
  readonly #waiters = new Map<number, Waiter>();
  /** Frames written before the upgrade completed; null once the socket is ours. */
  #early: Buffer[] | null = [];
  #socket: Socket | null = null;
  #out: Corker | null = null;
  #seq = 0;
  #heardAt = 0;
  #ended = false;
  readonly #cancel: () => void;

  constructor(options: OutboundStreamOptions, private readonly onEnd: (stream: OutboundStream) => void) {
    this.#o = options;
    this.#cancel = this.#open();
  }

  /** False once the stream has ended or used up its sequence numbers: open another. */
  get usable(): boolean {
    return !this.#ended && this.#seq < MAX_SEQ;
  }

  /** Sends one message; resolves with its reply, or with the failure that stands in for one. */
  send(type: string, body: Uint8Array, timeoutMs: number): Promise<Result<unknown, RpcFailure>> {
    const { self, peer, signer } = this.#o;
    if (!this.usable) return Promise.resolve(err(this.#lost('the stream was closed')));
    const seq = ++this.#seq;
    const mac = signer === null ? ZERO_MAC : signer.mac(self, peer.id, type, `${this.#id}.${seq}`, body);
    const frame = encodeRequest(seq, type, mac, body);
    const sentAt = performance.now();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#waiters.delete(seq);
        resolve(err({ kind: 'timeout', message: `no reply from ${peer.id} to ${type} within ${timeoutMs} ms; outcome unknown` }));
        if (this.#heardAt < sentAt) this.end(`nothing heard from ${peer.id} for ${timeoutMs} ms`);
        else this.#retireIfDone();
      }, timeoutMs);
      this.#waiters.set(seq, { resolve, timer });
      if (this.#early !== null) this.#early.push(frame);
      else this.#out?.write(frame);
    });
  }

  /** Ends the stream: what it still waits for fails `unreachable` (outcome unknown). */
  end(why: string): void {
    this.#finish(this.#lost(why));
  }

  #finish(failure: RpcFailure): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#cancel();
    this.#socket?.destroy();
    for (const w of this.#waiters.values()) {
      clearTimeout(w.timer);
      w.resolve(err(failure));
    }
    this.#waiters.clear();
    this.onEnd(this);
  }

  #lost(why: string): RpcFailure {
    const { id, host, port } = this.#o.peer;
    return { kind: 'unreachable', message: `${id} (${host}:${port}): ${why}` };
  }

  /** Starts the upgrade; returns how to abandon it. */
  #open(): () => void {
    const { self, peer, signer } = this.#o;
    const ts = String(Date.now());
    const headers: Record<string, string> = {
      connection: 'Upgrade',
      upgrade: STREAM_PROTOCOL,
      [PEER_HEADER_FROM]: self,
      [PEER_HEADER_TO]: peer.id,
      [PEER_HEADER_TS]: ts,
      [PEER_HEADER_STREAM]: this.#id,
    };
    if (signer !== null) headers[PEER_HEADER_SIG] = signer.sign(self, peer.id, STREAM_TYPE, ts, Buffer.from(this.#id, 'hex'));
    const req = request({ host: peer.host, port: peer.port, method: 'GET', path: STREAM_PATH, headers, agent: false });
    req.on('error', (e) => this.end(e.message));
    req.on('upgrade', (_res: IncomingMessage, socket: Socket, head: Buffer) => this.#attach(socket, head));
    req.on('response', (res: IncomingMessage) => this.#refused(res));
    req.end();
    return () => req.destroy();
  }

  #attach(socket: Socket, head: Buffer): void {
    if (this.#ended) {
      socket.destroy();
      return;
    }
    this.#socket = socket;
    socket.setNoDelay(true);
    const reader = new FrameReader(maxReplyFrame(this.#o.maxReplyBytes));
    const onData = (chunk: Buffer): void => {
      this.#heardAt = performance.now();
      try {
        reader.push(chunk, (frame) => this.#onReply(frame));
      } catch (e) {
        if (!(e instanceof FrameTooLargeError)) throw e;
        this.end(`reply ${e.message}`);
      }
    };
    socket.on('data', onData);
    socket.on('error', (e) => this.end(e.message));
    socket.on('close', () => this.end('connection closed'));
    if (head.length > 0) onData(head);
    const out = (this.#out = new Corker(socket));
    for (const frame of this.#early ?? []) out.write(frame);
    this.#early = null;
  }

  #onReply(frame: Buffer): void {
    const reply = decodeReply(frame);
    if (reply === null) return this.end('a reply frame shorter than its header');
    const w = this.#waiters.get(reply.seq);
    if (w === undefined) return; // its caller gave up (timeout), or a duplicate's second reply
    this.#waiters.delete(reply.seq);
    clearTimeout(w.timer);
    w.resolve(replyResult(this.#o.peer.id, reply.status, reply.body));
    this.#retireIfDone();
  }

  /** A stream out of sequence numbers closes once its last reply is in. */
  #retireIfDone(): void {
    if (this.#seq >= MAX_SEQ && this.#waiters.size === 0) this.end('retired');
  }

  /** The upgrade was answered with an HTTP error (401, 404...): every message gets it. */
  #refused(res: IncomingMessage): void {
    const chunks: Buffer[] = [];
    let size = 0;
    res.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_REFUSAL_BYTES) chunks.push(chunk);
    });
    res.on('error', (e) => this.end(e.message));
    res.on('end', () => {
      const r = replyResult(this.#o.peer.id, res.statusCode ?? 0, Buffer.concat(chunks));
      this.#finish(r.ok ? this.#lost(`answered ${res.statusCode ?? 0} instead of upgrading`) : r.error);
    });
  }
}

/** A reply's status and body as the caller's outcome. */
export function replyResult(peer: NodeId, status: number, body: Buffer): Result<unknown, RpcFailure> {
  if (status >= 200 && status < 300) {
    try {
      return ok(unpack(body));
    } catch (e) {
      return err({ kind: 'remote_error', status: 502, message: `reply from ${peer} is not valid msgpack: ${(e as Error).message}` });
    }
  }
  // Error replies are JSON in the contract's shape {"error": {"code", "message"}}.
  let message = body.toString('utf8', 0, Math.min(body.length, 500));
  try {
    const parsed = JSON.parse(message) as { error?: { message?: unknown } };
    if (typeof parsed.error?.message === 'string') message = parsed.error.message;
  } catch {
    // not JSON: keep the text
  }
  return err({ kind: 'remote_error', status, message: `${peer} answered ${status}: ${message}` });
}
