import { describe, expect, it } from 'vitest';
import { planTargets, ReadRound, WriteRound } from './coordinator.js';
import type { PutReply } from './messages.js';

const stored: PutReply = { status: 'stored', value: 1, clock: { n1: 1 }, siblings: 1 };
const walk = ['n1', 'n2', 'n3', 'n4'];

describe('planTargets', () => {
  it('sends to the N owners that are up', () => {
    expect(planTargets(walk, 3, () => true, false).targets).toEqual([{ node: 'n1' }, { node: 'n2' }, { node: 'n3' }]);
  });
  it('without a sloppy quorum, skips an owner that is down', () => {
    expect(planTargets(walk, 3, (n) => n !== 'n2', false).targets).toEqual([{ node: 'n1' }, { node: 'n3' }]);
  });
  it('with a sloppy quorum, a stand-in beyond the preference list holds a hint for it (Dynamo §4.6)', () => {
    expect(planTargets(walk, 3, (n) => n !== 'n2', true).targets).toEqual([{ node: 'n1' }, { node: 'n4', hintFor: 'n2' }, { node: 'n3' }]);
  });
  it('with N equal to the cluster size there is no stand-in', () => {
    expect(planTargets(walk.slice(0, 3), 3, (n) => n !== 'n2', true).targets).toHaveLength(2);
  });
});

describe('WriteRound', () => {
  it('succeeds at W acknowledgements', () => {
    const round = new WriteRound(2, [{ node: 'n1' }, { node: 'n2' }, { node: 'n3' }], [], false, 100);
    round.onReply('n1', stored);
    expect(round.decision).toBeUndefined();
    round.onReply('n2', stored);
    expect(round.decision).toEqual({ kind: 'ok', acks: 2 });
  });

  it('refuses with 503 before sending anything when fewer than W owners are reachable', () => {
    const round = new WriteRound(3, [{ node: 'n1' }, { node: 'n3' }], [], false, 100);
    expect(round.decision?.kind).toBe('unavailable');
    expect(round.initialTargets()).toEqual([]);
  });

  it('answers 504, not 503, when some replica may hold the write', () => {
    const round = new WriteRound(3, [{ node: 'n1' }, { node: 'n2' }, { node: 'n3' }], [], false, 100);
    round.onReply('n1', stored);
    round.onReply('n2', stored);
    round.onTick(99);
    expect(round.decision).toBeUndefined();
    round.onTick(100);
    expect(round.decision?.kind).toBe('timeout');
    expect(round.decision?.acks).toBe(2);
  });

  it('answers 503 when every copy was surely not applied', () => {
    const round = new WriteRound(2, [{ node: 'n2' }, { node: 'n3' }], [], false, 100);
    round.onFailure('n2', { kind: 'circuit_open', message: 'open' });
    round.onReply('n3', { status: 'refused', reason: 'keys_full' });
    expect(round.decision?.kind).toBe('unavailable');
  });

  it('a timed-out copy is unknown: 504', () => {
    const round = new WriteRound(1, [{ node: 'n2' }], [], false, 100);
    round.onFailure('n2', { kind: 'timeout', message: 'slow' });
    expect(round.decision?.kind).toBe('timeout');
  });

  it('with a sloppy quorum, replaces a failing owner by a hinted stand-in', () => {
    const round = new WriteRound(3, [{ node: 'n1' }, { node: 'n2' }, { node: 'n3' }], ['n4'], true, 100);
    expect(round.onFailure('n2', { kind: 'unreachable', message: 'refused' })).toEqual([{ node: 'n4', hintFor: 'n2' }]);
    round.onReply('n1', stored);
    round.onReply('n3', stored);
    round.onReply('n4', stored);
    expect(round.decision).toEqual({ kind: 'ok', acks: 3 });
    expect(round.hinted).toBe(1);
  });
});

describe('ReadRound', () => {
  it('answers the join of R replies and names stale replicas for read repair', () => {
    const round = new ReadRound(2, [{ node: 'n1' }, { node: 'n2' }, { node: 'n3' }], 'merge', 8, 100);
    round.onReply('n1', [{ c: { n1: 2 }, d: [['k:a', 1], ['k:b', 1]] }]);
    round.onReply('n2', [{ c: { n1: 1 }, d: [['k:a', 1]] }]);
    const decision = round.decision;
    expect(decision?.kind).toBe('ok');
    if (decision?.kind !== 'ok') return;
    expect(decision.object.value()).toBe(2);
    round.onReply('n3', []);
    expect(round.settled).toBe(true);
    expect(round.repairs().map((r) => r.node)).toEqual(['n2', 'n3']);
  });

  it('counts concurrent versions before resolving them (lww)', () => {
    const round = new ReadRound(2, [{ node: 'n1' }, { node: 'n2' }], 'lww', 8, 100);
    round.onReply('n1', [{ c: { n1: 1 }, v: 1, t: 10, w: 'n1' }]);
    round.onReply('n2', [{ c: { n2: 1 }, v: 1, t: 20, w: 'n2' }]);
    const decision = round.decision;
    expect(decision?.kind === 'ok' && decision.siblingsSeen).toBe(2);
    expect(decision?.kind === 'ok' && decision.object.siblingCount()).toBe(1);
  });

  it('times out when fewer than R answer by the deadline', () => {
    const round = new ReadRound(2, [{ node: 'n1' }, { node: 'n2' }], 'merge', 8, 100);
    round.onReply('n1', []);
    round.onTick(100);
    expect(round.decision?.kind).toBe('timeout');
  });
});
