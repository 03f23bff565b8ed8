import { describe, expect, it } from 'vitest';
import { bearerMatches, isFreshTimestamp, PeerSigner, PEER_TS_WINDOW_MS } from './auth.js';

describe('PeerSigner', () => {
  const s = new PeerSigner('secret');
  const body = new Uint8Array([1, 2, 3]);
  const sig = s.sign('n1', 'n2', 'append', '1000', body);

  it('verifies its own signature', () => {
    expect(sig).toMatch(/^[0-9a-f]{64}$/);
    expect(s.verify('n1', 'n2', 'append', '1000', body, sig)).toBe(true);
  });

  it('binds sender, destination, type, timestamp and body', () => {
    expect(s.verify('n3', 'n2', 'append', '1000', body, sig)).toBe(false);
    expect(s.verify('n1', 'n3', 'append', '1000', body, sig)).toBe(false);
    expect(s.verify('n1', 'n2', 'vote', '1000', body, sig)).toBe(false);
    expect(s.verify('n1', 'n2', 'append', '1001', body, sig)).toBe(false);
    expect(s.verify('n1', 'n2', 'append', '1000', new Uint8Array([1, 2, 4]), sig)).toBe(false);
    // the separator keeps ("n1","2n") apart from ("n12","n")
    expect(s.sign('n1', '2n', 't', '1', body)).not.toBe(s.sign('n12', 'n', 't', '1', body));
  });

  it('rejects another secret and malformed signatures without throwing', () => {
    expect(new PeerSigner('other').verify('n1', 'n2', 'append', '1000', body, sig)).toBe(false);
    for (const bad of ['', 'zz', sig.slice(2), `${sig}00`, 'g'.repeat(64)]) {
      expect(s.verify('n1', 'n2', 'append', '1000', body, bad)).toBe(false);
    }
  });
});

describe('isFreshTimestamp', () => {
  it('accepts ±5 minutes and nothing else', () => {
    const now = 1_700_000_000_000;
    expect(isFreshTimestamp(String(now), now)).toBe(true);
    expect(isFreshTimestamp(String(now - PEER_TS_WINDOW_MS), now)).toBe(true);
    expect(isFreshTimestamp(String(now + PEER_TS_WINDOW_MS + 1), now)).toBe(false);
    expect(isFreshTimestamp(String(now - PEER_TS_WINDOW_MS - 1), now)).toBe(false);
    for (const bad of ['', '-1', '1e12', 'abc', '12.5']) expect(isFreshTimestamp(bad, now)).toBe(false);
  });
});

describe('bearerMatches', () => {
  it('needs exactly `Bearer <secret>`', () => {
    expect(bearerMatches('Bearer s3cret', 's3cret')).toBe(true);
    expect(bearerMatches(undefined, 's3cret')).toBe(false);
    expect(bearerMatches('s3cret', 's3cret')).toBe(false);
    expect(bearerMatches('Bearer s3cre', 's3cret')).toBe(false);
    expect(bearerMatches('Bearer s3cret ', 's3cret')).toBe(false);
  });
});
