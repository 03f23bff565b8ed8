/**
 * The peer stream's wire format. A stream is one TCP connection, opened by an HTTP/1.1 upgrade
 * (GET STREAM_PATH, `Upgrade: STREAM_PROTOCOL`, signed like any peer message; see
 * stream-server.ts), that then carries length-prefixed frames, little-endian:
 *
 *   request (caller -> callee)   [u32 length][u32 seq][u8 type length][type][32-byte HMAC][msgpack body]
 *   reply   (callee -> caller)   [u32 length][u32 seq][u16 status][body]
 *
 * `length` counts the bytes after itself. `seq` numbers the requests of one stream from 1 and a
 * reply carries its request's; replies come back in the order handlers finish. A reply's body
 * is msgpack when its status is 2xx, and the contract's JSON error `{"error": {...}}` otherwise,
 * as on the one-message HTTP route. The HMAC is the peer signature (auth.ts) with
 * `<stream id>.<seq>` in the timestamp's place, so that a frame cannot be replayed into another
 * stream or at another position; it is all zeros in insecure mode.
 */
export const STREAM_PATH = '/peer-stream';
export const STREAM_PROTOCOL = 'playground-peer/1';
/** The header that names the stream: 16 random bytes, hex. */
export const PEER_HEADER_STREAM = 'x-peer-stream';
/** The `type` the upgrade request is signed as (the stream id is the signed body). */
export const STREAM_TYPE = 'stream';

export const MAC_BYTES = 32;
const LENGTH_BYTES = 4;
const REQUEST_FIXED = 4 + 1 + MAC_BYTES; // seq, type length, MAC
const REPLY_FIXED = 4 + 2; // seq, status

export function encodeRequest(seq: number, type: string, mac: Uint8Array, body: Uint8Array): Buffer {
  const typeBytes = Buffer.byteLength(type, 'latin1');
  const length = REQUEST_FIXED + typeBytes + body.byteLength;
  const frame = Buffer.allocUnsafe(LENGTH_BYTES + length);
  frame.writeUInt32LE(length, 0);
  frame.writeUInt32LE(seq, 4);
  frame.writeUInt8(typeBytes, 8);
  frame.write(type, 9, 'latin1');
  frame.set(mac, 9 + typeBytes);
  frame.set(body, 9 + typeBytes + MAC_BYTES);
  return frame;
}

export interface RequestFrame {
  readonly seq: number;
  readonly type: string;
  readonly mac: Buffer;
  readonly body: Buffer;
}

/** null when the frame is too short for what its header claims. */
export function decodeRequest(frame: Buffer): RequestFrame | null {
  if (frame.length < REQUEST_FIXED) return null;
  const typeBytes = frame.readUInt8(4);
  const macAt = 5 + typeBytes;
  if (frame.length < macAt + MAC_BYTES) return null;
  return {
    seq: frame.readUInt32LE(0),
    type: frame.toString('latin1', 5, macAt),
    mac: frame.subarray(macAt, macAt + MAC_BYTES),
    body: frame.subarray(macAt + MAC_BYTES),
  };
}

export function encodeReply(seq: number, status: number, body: Uint8Array): Buffer {
  const length = REPLY_FIXED + body.byteLength;
  const frame = Buffer.allocUnsafe(LENGTH_BYTES + length);
  frame.writeUInt32LE(length, 0);
  frame.writeUInt32LE(seq, 4);
  frame.writeUInt16LE(status, 8);
  frame.set(body, 10);
  return frame;
}

export interface ReplyFrame {
  readonly seq: number;
  readonly status: number;
  readonly body: Buffer;
}

export function decodeReply(frame: Buffer): ReplyFrame | null {
  if (frame.length < REPLY_FIXED) return null;
  return { seq: frame.readUInt32LE(0), status: frame.readUInt16LE(4), body: frame.subarray(REPLY_FIXED) };
}

/** The largest request frame (after its length field) that carries a body of `maxBody` bytes. */
export function maxRequestFrame(maxBody: number): number {
  return REQUEST_FIXED + 255 + maxBody;
}

/** The largest reply frame (after its length field) that carries a body of `maxBody` bytes. */
export function maxReplyFrame(maxBody: number): number {
  return REPLY_FIXED + maxBody;
}

export class FrameTooLargeError extends Error {}

/**
 * Cuts a byte stream into frames (each without its length field). Chunks are kept as they
 * arrive and joined once a whole frame is there, so a large frame costs one copy, not one per
 * chunk. A frame whose length is over `maxFrame` throws FrameTooLargeError: the stream cannot
 * be trusted past it.
 */
export class FrameReader {
  #chunks: Buffer[] = [];
  #size = 0;

  constructor(private readonly maxFrame: number) {}

  push(chunk: Buffer, onFrame: (frame: Buffer) => void): void {
    if (this.#size === 0) {
      // The common case: the chunk holds whole frames, parsed in place.
      this.#parse(chunk, onFrame);
      return;
    }
    this.#chunks.push(chunk);
    this.#size += chunk.length;
    if (this.#size < LENGTH_BYTES) return;
    const head = (this.#chunks[0] as Buffer).length >= LENGTH_BYTES ? (this.#chunks[0] as Buffer) : Buffer.concat(this.#chunks);
    const length = this.#check(head.readUInt32LE(0));
    if (this.#size < LENGTH_BYTES + length) return;
    const joined = Buffer.concat(this.#chunks, this.#size);
    this.#chunks = [];
    this.#size = 0;
    this.#parse(joined, onFrame);
  }

  #parse(bytes: Buffer, onFrame: (frame: Buffer) => void): void {
    let at = 0;
    while (bytes.length - at >= LENGTH_BYTES) {
      const length = this.#check(bytes.readUInt32LE(at));
      const end = at + LENGTH_BYTES + length;
      if (end > bytes.length) break;
      onFrame(bytes.subarray(at + LENGTH_BYTES, end));
      at = end;
    }
    if (at < bytes.length) {
      this.#chunks = [bytes.subarray(at)];
      this.#size = bytes.length - at;
    }
  }

  #check(length: number): number {
    if (length > this.maxFrame) throw new FrameTooLargeError(`frame of ${length} bytes is over the bound of ${this.maxFrame}`);
    return length;
  }
}
