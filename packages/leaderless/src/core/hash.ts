/**
 * Small, fast, deterministic string hashes for the ring and for digests. FNV-1a walks the
 * string; murmur3's fmix32 finalizer spreads it, because bare FNV clusters similar strings
 * ("n1#0", "n1#1", ...) on the ring.
 */
export function hash32(text: string, seed = 0x811c9dc5): number {
  let h = seed >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * A 64-bit digest kept as two 32-bit halves. Digests of sets are the XOR of their members'
 * digests: order-free and updatable in O(1) when a member is added, which keeps anti-entropy
 * cheap on a hot key with many dots.
 */
export interface Digest64 {
  hi: number;
  lo: number;
}

export const SEED_HI = 0x811c9dc5;
export const SEED_LO = 0x2545f491;

export function digestOf(text: string): Digest64 {
  return { hi: hash32(text, SEED_HI), lo: hash32(text, SEED_LO) };
}

export function xorInto(into: Digest64, other: Digest64): void {
  into.hi = (into.hi ^ other.hi) >>> 0;
  into.lo = (into.lo ^ other.lo) >>> 0;
}

export function digestHex(d: Digest64): string {
  return d.hi.toString(16).padStart(8, '0') + d.lo.toString(16).padStart(8, '0');
}
