import { BadRequestError } from '@playground/core';
import { describe, expect, it } from 'vitest';
import { CounterCrdt } from './counter.js';
import { encodeSeen, encodeState, WireParser, WIRE_VERSION, type GossipBody } from './wire.js';

const members = ['n1', 'n2', 'n3'];

function body(state: Partial<GossipBody['state']>, extra: Partial<GossipBody> = {}): unknown {
  return { v: WIRE_VERSION, mode: 'pn', full: false, seen: [['n1', 1]], state: { plain: [], dots: [], compacted: [], ...state }, ...extra };
}

function fieldOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(BadRequestError);
    return (e as BadRequestError).field;
  }
  throw new Error('expected a BadRequestError');
}

describe('peer messages: strict parsing', () => {
  const pn = new WireParser(members, 'pn');
  const g = new WireParser(members, 'g');

  it('round-trips a state', () => {
    const crdt = new CounterCrdt({ self: 'n1', members, mode: 'pn', maxTombstones: 10, maxChangeLog: 10 });
    crdt.merge({
      plain: [{ origin: 'n1', key: 'a', p: 3, n: 1 }],
      dots: [{ origin: 'n2', seq: 1, idem: 'k', key: 'a', delta: -2, deps: { n1: 0, n3: 4 } }],
      compacted: [{ origin: 'n3', upToSeq: 4, sums: new Map([['a', { p: 7, n: 0 }]]) }],
    });
    const parsed = pn.gossip({ v: WIRE_VERSION, mode: 'pn', full: true, seen: encodeSeen(crdt.seenVector()), state: encodeState(crdt.fullState()) });
    const copy = new CounterCrdt({ self: 'n2', members, mode: 'pn', maxTombstones: 10, maxChangeLog: 10 });
    copy.merge(parsed.state);
    expect(copy.value('a')).toBe(crdt.value('a'));
    expect(copy.value('a')).toBe(3 - 1 - 2 + 7);
  });

  it('refuses a negative delta, or a negative half, in G-counter mode', () => {
    expect(fieldOf(() => g.gossip(body({ dots: [['n1', 1, 'k', 'a', -1, []]] }, { mode: 'g' })))).toBe('state.dots[0][4]');
    expect(fieldOf(() => g.gossip(body({ plain: [['n1', 'a', 1, 2]] }, { mode: 'g' })))).toBe('state.plain[0][3]');
    expect(fieldOf(() => g.gossip(body({ compacted: [['n1', 1, [['a', 1, 1]]]] }, { mode: 'g' })))).toBe('state.compacted[0][2][0][2]');
    expect(fieldOf(() => g.gossip(body({})))).toBe('mode'); // a PN peer talking to a G node
  });

  it('refuses a node id that is not a member, wherever it hides', () => {
    expect(fieldOf(() => pn.gossip(body({}, { seen: [['n9', 1]] })))).toBe('seen[0][0]');
    expect(fieldOf(() => pn.gossip(body({ plain: [['n9', 'a', 1, 0]] })))).toBe('state.plain[0][0]');
    expect(fieldOf(() => pn.gossip(body({ dots: [['n1', 1, 'k', 'a', 1, [['__proto__', 1]]]] })))).toBe('state.dots[0][5][0][0]');
    expect(fieldOf(() => pn.gossip(body({ compacted: [['n4', 1, []]] })))).toBe('state.compacted[0][0]');
  });

  it('refuses malformed shapes', () => {
    expect(fieldOf(() => pn.gossip(null))).toBe('body');
    expect(fieldOf(() => pn.gossip(body({}, { v: 2 })))).toBe('v');
    expect(fieldOf(() => pn.gossip(body({ plain: 'x' as never })))).toBe('state.plain');
    expect(fieldOf(() => pn.gossip(body({ plain: [['n1', 'a', 1]] as never })))).toBe('state.plain[0]');
    expect(fieldOf(() => pn.gossip(body({ plain: [['n1', 'bad key!', 1, 0]] })))).toBe('state.plain[0][1]');
    expect(fieldOf(() => pn.gossip(body({ plain: [['n1', 'a', 1.5, 0]] })))).toBe('state.plain[0][2]');
    expect(fieldOf(() => pn.gossip(body({ plain: [['n1', 'a', -1, 0]] })))).toBe('state.plain[0][2]');
    expect(fieldOf(() => pn.gossip(body({ dots: [['n1', 0, 'k', 'a', 1, []]] })))).toBe('state.dots[0][1]');
    expect(fieldOf(() => pn.gossip(body({ dots: [['n1', 1, '', 'a', 1, []]] })))).toBe('state.dots[0][2]');
    expect(fieldOf(() => pn.gossip(body({ dots: [['n1', 1, 'k', 'a', 1, []], ['n1', 1, 'k', 'a', 1, []]] })))).toBe('state.dots[1]');
    expect(fieldOf(() => pn.gossip(body({}, { seen: [['n1', 1], ['n1', 2]] })))).toBe('seen[1][0]');
    expect(fieldOf(() => pn.gossip(body({ compacted: [['n1', 1, [['a', 1, 0], ['a', 1, 0]]]] })))).toBe('state.compacted[0][2][1][0]');
  });

  it('parses batched idempotency questions and refuses an answer about a key not asked', () => {
    expect(pn.idemRequest({ v: WIRE_VERSION, idems: ['a', 'b'] })).toEqual(['a', 'b']);
    expect(pn.idemRequest({ v: WIRE_VERSION, idem: 'a' })).toEqual(['a']);
    expect(fieldOf(() => pn.idemRequest({ v: WIRE_VERSION, idems: ['a', ''] }))).toBe('idems[1]');
    expect(fieldOf(() => pn.idemRequest({ v: WIRE_VERSION, idems: 'a' }))).toBe('idems');
    expect(fieldOf(() => pn.idemRequest({ v: WIRE_VERSION, idems: Array.from({ length: 4097 }, (_, i) => `k${i}`) }))).toBe('idems');
    const answer = { v: WIRE_VERSION, dots: [['n2', 1, 'b', 'a', 1, []]] };
    expect(pn.idemReply(answer, new Set(['a', 'b'])).map((d) => d.idem)).toEqual(['b']);
    expect(fieldOf(() => pn.idemReply(answer, new Set(['a'])))).toBe('dots');
  });

  it('finds a dot or a fold that contradicts what is held, so that nothing is merged', () => {
    const crdt = new CounterCrdt({ self: 'n1', members, mode: 'pn', maxTombstones: 10, maxChangeLog: 10 });
    crdt.merge(pn.gossip(body({ dots: [['n2', 1, 'k', 'a', 1, []]], compacted: [['n3', 2, [['a', 2, 0]]]] })).state);
    const liar = pn.gossip(body({ plain: [['n2', 'a', 100, 0]], dots: [['n2', 1, 'k', 'a', 50, []]] })).state;
    expect(crdt.conflictIn(liar)).toMatch(/dot \(n2, 1\)/);
    expect(crdt.conflictIn(pn.gossip(body({ compacted: [['n3', 2, [['a', 9, 0]]]] })).state)).toMatch(/compacted \(n3, 2\)/);
    expect(() => crdt.merge(liar)).toThrow(/conflicting/);
    expect(crdt.value('a')).toBe(3);
  });
});
