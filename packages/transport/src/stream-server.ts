/**
 * The inbound half of the peer stream (wire format: frames.ts).
 *
 * The upgrade request is checked like a one-message POST /peer/:type (peer-route.ts), in the same
 * order: injected inbound faults first (a cut link answers nothing), then sender, destination,
 * timestamp and signature, all before `101 Switching Protocols`; a refusal is an ordinary HTTP
 * error with the contract's JSON body. Each frame is then checked again: the inbound faults in
 * force now (blackhole: dropped unanswered; reject: the connection is cut), the frame's HMAC, a
 * sequence number above the last one and the type's shape, and only then is it decoded and
 * handed to the topology. A forged frame is answered 401 and ends the stream; nothing in it
 * reaches the protocol.
 */
import type { IncomingMessage } from 'node:http';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { NodeId } from '@playground/core';
import { PEER_HEADER_FROM, PEER_HEADER_SIG, PEER_HEADER_TO, PEER_HEADER_TS } from './auth.js';
import {
  FrameReader,
  FrameTooLargeError,
  PEER_HEADER_STREAM,
  STREAM_PATH,
  STREAM_PROTOCOL,
  STREAM_TYPE,
  decodeRequest,
  encodeReply,
  maxRequestFrame,
} from './frames.js';
import { errorBody } from './http-errors.js';
import { BAD_SIGNATURE, cutIfPartitioned, deliver, envelopeRefusal, TYPE_PATTERN, type PeerRouteOptions } from './peer-route.js';
import { Corker } from './corker.js';

const STREAM_ID_PATTERN = /^[0-9a-f]{32}$/;
/**
 * Frames of one stream being handled at once. Past it the stream is not read until some are
 * answered (TCP backpressure then holds the sender). A sender keeps to its own, smaller bound
 * (maxInFlightPerPeer), so this only stops one that does not.
 */
export const MAX_FRAMES_HANDLING = 1024;

export class StreamServer {
  readonly #o: PeerRouteOptions;
  readonly #sockets = new Set<Duplex>();

  constructor(options: PeerRouteOptions) {
    this.#o = options;
  }

  /** The http.Server's 'upgrade' listener. */
  accept(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    void this.#accept(req, socket as Socket, head);
  }

  /** Cuts every open stream (the server is closing): their callers see the connection end. */
  close(): void {
    for (const socket of this.#sockets) socket.destroy();
    this.#sockets.clear();
  }

  async #accept(req: IncomingMessage, socket: Socket, head: Buffer): Promise<void> {
    const o = this.#o;
    socket.on('error', () => undefined); // a peer that vanishes mid-stream is not this node's error
    const header = (name: string): string => {
      const v = req.headers[name];
      return typeof v === 'string' ? v : '';
    };
    const route = (status: number): void => o.metrics.httpRequests.labels('GET', STREAM_PATH, String(status)).inc();
    if ((req.url ?? '') !== STREAM_PATH || header('upgrade') !== STREAM_PROTOCOL) {
      route(404);
      return refuse(socket, 404, 'not_found', `no upgrade to ${JSON.stringify(header('upgrade'))} at ${req.url ?? ''}`);
    }
    const from = header(PEER_HEADER_FROM);
    if (await cutIfPartitioned(o, from, STREAM_TYPE, socket)) return;
    const to = header(PEER_HEADER_TO);
    const ts = header(PEER_HEADER_TS);
    const streamId = header(PEER_HEADER_STREAM);
    let refusal = envelopeRefusal(o, from, to, ts);
    if (refusal === null && !STREAM_ID_PATTERN.test(streamId)) refusal = `${PEER_HEADER_STREAM}: must be 32 lowercase hex digits`;
    if (refusal === null && o.signer !== null && !o.signer.verify(from, to, STREAM_TYPE, ts, Buffer.from(streamId, 'hex'), header(PEER_HEADER_SIG))) {
      refusal = BAD_SIGNATURE;
    }
    if (refusal !== null) {
      route(401);
      return refuse(socket, 401, 'unauthenticated', refusal);
    }
    route(101);
    socket.setNoDelay(true);
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: ${STREAM_PROTOCOL}\r\n\r\n`);
    this.#sockets.add(socket);
    socket.once('close', () => this.#sockets.delete(socket));
    new InboundStream(o, from, streamId, socket).start(head);
  }
}

/** One accepted stream: frames in, replies out. */
class InboundStream {
  readonly #reader: FrameReader;
  readonly #out: Corker;
  #lastSeq = 0;
  /** Frames handed to the topology and not yet answered. */
  #handling = 0;
  /** Frames read while MAX_FRAMES_HANDLING were being handled (at most the rest of one chunk). */
  readonly #backlog: Buffer[] = [];
  #cutOff = false;

  constructor(
    private readonly o: PeerRouteOptions,
    private readonly from: NodeId,
    private readonly streamId: string,
    private readonly socket: Socket,
  ) {
    this.#reader = new FrameReader(maxRequestFrame(o.maxPeerBodyBytes));
    this.#out = new Corker(socket);
  }

  start(head: Buffer): void {
    const onData = (chunk: Buffer): void => {
      try {
        this.#reader.push(chunk, (frame) => this.#onFrame(frame));
      } catch (e) {
        if (!(e instanceof FrameTooLargeError)) throw e;
        this.o.log.warn('peer stream closed: frame over the bound', { from: this.from, error: e.message });
        this.socket.destroy();
      }
    };
    this.socket.on('data', onData);
    if (head.length > 0) onData(head);
  }

  #onFrame(frame: Buffer): void {
    if (this.#handling < MAX_FRAMES_HANDLING) return this.#handle(frame);
    this.#backlog.push(frame);
    this.socket.pause();
  }

  #handle(frame: Buffer): void {
    const { o, from } = this;
    if (this.#cutOff || this.socket.destroyed) return;
    const request = decodeRequest(frame);
    if (request === null) return this.#cut('a frame shorter than its header');
    const { seq, type, mac, body } = request;
    const label = TYPE_PATTERN.test(type) ? type : 'invalid';
    const fault = o.faults.inbound(from);
    if (fault !== null) {
      o.metrics.peerDropped.labels(from, label, 'in', fault).inc();
      if (fault === 'reject') this.socket.destroy();
      return;
    }
    if (o.signer !== null && !o.signer.verifyMac(from, o.self, type, `${this.streamId}.${seq}`, body, mac)) {
      this.#error(seq, 401, 'unauthenticated', 'frame HMAC missing or invalid');
      return this.#cut('a frame with a bad HMAC');
    }
    // The MAC binds the seq, so a frame that passed it came from the sender; an old seq is a replay.
    if (seq <= this.#lastSeq) return this.#cut(`sequence number ${seq} after ${this.#lastSeq} (a replayed frame?)`);
    this.#lastSeq = seq;
    if (label === 'invalid') return this.#error(seq, 400, 'bad_request', `type: must match ${TYPE_PATTERN.source}`);
    this.#handling++;
    void deliver(o, from, type, body).then((d) => {
      this.#handling--;
      if (d.ok) this.#reply(seq, 200, d.body);
      else this.#error(seq, d.status, d.code, d.message);
      if (this.#cutOff) {
        if (this.#handling === 0) this.#end();
        return;
      }
      while (this.#handling < MAX_FRAMES_HANDLING && this.#backlog.length > 0) this.#handle(this.#backlog.shift() as Buffer);
      if (this.#backlog.length === 0 && this.socket.isPaused()) this.socket.resume();
    });
  }

  #error(seq: number, status: number, code: Parameters<typeof errorBody>[0], message: string): void {
    this.#reply(seq, status, Buffer.from(JSON.stringify(errorBody(code, message))));
  }

  #reply(seq: number, status: number, body: Uint8Array): void {
    if (this.socket.writable) this.#out.write(encodeReply(seq, status, body));
  }

  /**
   * A broken promise of the protocol: nothing more is read from this stream; the frames accepted
   * before the bad one are still answered, then it ends.
   */
  #cut(why: string): void {
    this.#cutOff = true;
    this.o.log.warn('peer stream closed', { from: this.from, reason: why });
    if (this.#handling === 0) this.#end();
  }

  #end(): void {
    this.#out.flush();
    this.socket.end();
  }
}

/** An HTTP error on a connection that asked to upgrade, then closed. */
function refuse(socket: Socket, status: number, code: Parameters<typeof errorBody>[0], message: string): void {
  const body = JSON.stringify(errorBody(code, message));
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nConnection: close\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}
