import { describe, expect, it } from 'vitest';
import { planTargets, WriteRound } from './coordinator.js';
import type { Target } from './coordinator.js';
import type { PutReply } from './messages.js';

const stored: PutReply = { status: 'stored', value: 1, clock: { n1: 1 }, siblings: 1 };
const walk = ['n1', 'n2', 'n3', 'n4'];
const plan = (targets: Target[], spare: string[] = [], reachable = targets.length) => ({ targets, spare, reachable });

describe('planTargets', () => {
  it('sends to the N owners that are up', () => {
    expect(planTargets(walk, 3, () => true, false).targets).toEqual([{ node: 'n1' }, { node: 'n2' }, { node: 'n3' }]);
  });
  it('without a sloppy quorum, still tries an owner that is down but does not count on it', () => {
    const p = planTargets(walk, 3, (n) => n !== 'n2', false);
    expect(p.targets).toEqual([{ node: 'n1' }, { node: 'n2' }, { node: 'n3' }]);
    expect(p.reachable).toBe(2);
  });
  it('with a sloppy quorum, a stand-in beyond the preference list holds a hint for it (Dynamo §4.6)', () => {
    expect(planTargets(walk, 3, (n) => n !== 'n2', true).targets).toEqual([{ node: 'n1' }, { node: 'n4', hintFor: 'n2' }, { node: 'n3' }]);
  });
  it('with N equal to the cluster size there is no stand-in', () => {
    expect(planTargets(walk.slice(0, 3), 3, (n) => n !== 'n2', true)).toMatchObject({ targets: [{ node: 'n1' }, { node: 'n3' }], reachable: 2 });
  });
});

describe('WriteRound', () => {
  it('succeeds at W acknowledgements', () => {
    const round = new WriteRound(2, plan([{ node: 'n1' }, { node: 'n2' }, { node: 'n3' }], []), false, 100);
    round.onReply('n1', stored);
    expect(round.decision).toBeUndefined();
    round.onReply('n2', stored);
    expect(round.decision).toEqual({ kind: 'ok', acks: 2 });
  });

  it('refuses with 503 before sending anything when fewer than W owners are reachable', () => {
    const round = new WriteRound(3, plan([{ node: 'n1' }, { node: 'n2' }, { node: 'n3' }], [], 2), false, 100);
    expect(round.decision?.kind).toBe('unavailable');
    expect(round.initialTargets()).toEqual([]);
  });

  it('answers 504, not 503, when some replica may hold the write', () => {
    const round = new WriteRound(3, plan([{ node: 'n1' }, { node: 'n2' }, { node: 'n3' }], []), false, 100);
    round.onReply('n1', stored);
    round.onReply('n2', stored);
    round.onTick(99);
    expect(round.decision).toBeUndefined();
    round.onTick(100);
    expect(round.decision?.kind).toBe('timeout');
    expect(round.decision?.acks).toBe(2);
  });

  it('answers 503 when every copy was surely not applied', () => {
    const round = new WriteRound(2, plan([{ node: 'n2' }, { node: 'n3' }], []), false, 100);
    round.onFailure('n2', { kind: 'circuit_open', message: 'open' });
    round.onReply('n3', { status: 'refused', reason: 'keys_full' });
    expect(round.decision?.kind).toBe('unavailable');
  });

  it("says which replicas refused and what their bound means (a key full of Idempotency-Keys is not a partition)", () => {
    const round = new WriteRound(2, plan([{ node: 'n1' }, { node: 'n2' }, { node: 'n3' }], []), false, 100);
    round.onReply('n1', { status: 'refused', reason: 'dots_full' });
    round.onReply('n2', { status: 'refused', reason: 'dots_full' });
    expect(round.decision).toBeUndefined();
    round.onReply('n3', { status: 'refused', reason: 'keys_full' });
    expect(round.decision?.kind).toBe('unavailable');
    const reason = round.decision?.kind === 'unavailable' ? round.decision.reason : '';
    expect(reason).toContain('n1, n2 refused: its copy of the key remembers as many Idempotency-Keys as a key may (--dedup-max)');
    expect(reason).toContain('n3 refused: it stores as many keys as it may (--keys-max)');
  });

  it('a timed-out copy is unknown: 504', () => {
    const round = new WriteRound(1, plan([{ node: 'n2' }], []), false, 100);
    round.onFailure('n2', { kind: 'timeout', message: 'slow' });
    expect(round.decision?.kind).toBe('timeout');
  });

  it('with a sloppy quorum, replaces a failing owner by a hinted stand-in', () => {
    const round = new WriteRound(3, plan([{ node: 'n1' }, { node: 'n2' }, { node: 'n3' }], ['n4']), true, 100);
    expect(round.onFailure('n2', { kind: 'unreachable', message: 'refused' })).toEqual([{ node: 'n4', hintFor: 'n2' }]);
    round.onReply('n1', stored);
    round.onReply('n3', stored);
    round.onReply('n4', stored);
    expect(round.decision).toEqual({ kind: 'ok', acks: 3 });
    expect(round.hinted).toBe(1);
  });
});
