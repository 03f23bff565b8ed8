import { describe, expect, it } from 'vitest';
import { BadRequestError } from '@playground/core';
import { parseMessages } from './wire.js';

const app = {
  type: 'app', from: 'n1', to: 'n2', term: 3, prevIndex: 4, prevTerm: 2, commit: 4,
  entries: [
    { term: 3, index: 5, command: null },
    { term: 3, index: 6, command: { kind: 'incr', key: 'counter', delta: 2, idem: 'k1', proposedAtMs: 1 } },
  ],
};

function refusal(body: unknown, from = 'n1'): string {
  try {
    parseMessages(body, from, 'n2');
  } catch (e) {
    expect(e).toBeInstanceOf(BadRequestError);
    return (e as Error).message;
  }
  throw new Error('expected a refusal');
}

describe('Raft peer messages from the wire', () => {
  it('accepts well-formed messages and keeps only known fields', () => {
    const [m] = parseMessages([{ ...app, extra: 'ignored' }], 'n1', 'n2');
    expect(m).toEqual(app);
    expect(parseMessages([{ type: 'hb', from: 'n1', to: 'n2', term: 1, commit: 0, context: null }], 'n1', 'n2')).toHaveLength(1);
  });

  it('refuses malformed messages, naming the field', () => {
    expect(refusal({})).toMatch(/^body:/);
    expect(refusal([{ ...app, from: 'n3' }])).toMatch(/^from: must be the authenticated sender n1/);
    expect(refusal([{ ...app, to: 'n3' }])).toMatch(/^to:/);
    expect(refusal([{ ...app, term: -1 }])).toMatch(/^term:/);
    expect(refusal([{ ...app, type: 'snapshot' }])).toMatch(/^type: unknown Raft message type/);
    expect(refusal([{ ...app, entries: [{ term: 3, index: 9, command: null }] }])).toMatch(/^entries\[0\]\.index: must be 5/);
    expect(refusal([{ ...app, entries: [{ term: 3, index: 5, command: { kind: 'incr', key: 'bad key', delta: 1, proposedAtMs: 1 } }] }])).toMatch(/^command\.key/);
    expect(refusal([{ ...app, entries: [{ term: 3, index: 5, command: { kind: 'incr', key: 'k', delta: 0.5, proposedAtMs: 1 } }] }])).toMatch(/^command\.delta/);
    expect(refusal([{ type: 'vote_resp', from: 'n1', to: 'n2', term: 1, granted: 'yes' }])).toMatch(/^granted/);
    expect(refusal([{ type: 'hb', from: 'n1', to: 'n2', term: 1, commit: 0, context: 'x'.repeat(300) }])).toMatch(/^context/);
    expect(refusal(new Array(5000).fill(app))).toMatch(/at most 4096/);
  });
});
