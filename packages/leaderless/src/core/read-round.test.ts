import { describe, expect, it } from 'vitest';
import type { Target } from './coordinator.js';
import { ReadRound } from './read-round.js';
import { Replica } from './replica.js';
import type { VersionWire } from './versioned.js';

const plan = (nodes: string[], reachable = nodes.length) => ({ targets: nodes.map((node): Target => ({ node })), reachable });

/** A replica holding `versions` for key k, to produce real summaries and digests. */
function holding(mode: 'merge' | 'lww', versions: VersionWire[]): Replica {
  const r = new Replica({ self: 'n1', mode, siblingsMax: 8, dotsMax: 100, keysMax: 100, hintMax: 10, buckets: 16 });
  if (versions.length > 0) r.applyState({ key: 'k', mode, versions });
  return r;
}

describe('ReadRound', () => {
  it('answers from summaries alone when the first R agree: no state crosses the network', () => {
    const same = holding('merge', [{ c: { n1: 1 }, d: [['k:a', 2]] }]);
    const round = new ReadRound(2, plan(['n1', 'n2', 'n3']), 'merge', 8, 100);
    expect(round.onSummary('n1', same.summary('k'))).toEqual([]);
    expect(round.onSummary('n2', same.summary('k'))).toEqual([]);
    expect(round.decision).toMatchObject({ kind: 'ok', value: 2, replies: 2, siblings: 1 });
  });

  it('fetches full states when summaries disagree, answers their join, and repairs the stale', () => {
    const newer = holding('merge', [{ c: { n1: 2 }, d: [['k:a', 1], ['k:b', 1]] }]);
    const older = holding('merge', [{ c: { n1: 1 }, d: [['k:a', 1]] }]);
    const empty = holding('merge', []);
    const round = new ReadRound(2, plan(['n1', 'n2', 'n3']), 'merge', 8, 100);
    round.onSummary('n1', newer.summary('k'));
    expect(round.onSummary('n2', older.summary('k')).sort()).toEqual(['n1', 'n2']);
    expect(round.decision).toBeUndefined();
    round.onState('n1', newer.read('k'));
    round.onState('n2', older.read('k'));
    expect(round.decision).toMatchObject({ kind: 'ok', value: 2 });
    round.onSummary('n3', empty.summary('k'));
    expect(round.settled).toBe(true);
    expect(round.repairFetches()).toEqual(['n3']);
    round.onState('n3', empty.read('k'));
    expect(round.repairs().map((r) => r.node)).toEqual(['n2', 'n3']);
  });

  it('counts concurrent versions before resolving them (lww)', () => {
    const a = holding('lww', [{ c: { n1: 1 }, v: 1, t: 10, w: 'n1' }]);
    const b = holding('lww', [{ c: { n2: 1 }, v: 1, t: 20, w: 'n2' }]);
    const round = new ReadRound(2, plan(['n1', 'n2']), 'lww', 8, 100);
    round.onSummary('n1', a.summary('k'));
    round.onSummary('n2', b.summary('k')).forEach((n) => round.onState(n, (n === 'n1' ? a : b).read('k')));
    expect(round.decision).toMatchObject({ kind: 'ok', siblingsSeen: 2, siblings: 1 });
  });

  it('refuses up front when fewer than R are reachable, and times out at the deadline', () => {
    expect(new ReadRound(2, plan(['n1', 'n2'], 1), 'merge', 8, 100).decision?.kind).toBe('unavailable');
    const round = new ReadRound(2, plan(['n1', 'n2']), 'merge', 8, 100);
    round.onSummary('n1', holding('merge', []).summary('k'));
    round.onTick(99);
    expect(round.decision).toBeUndefined();
    round.onTick(100);
    expect(round.decision?.kind).toBe('timeout');
  });

  it('a replica that fails to send its state leaves too few: timeout', () => {
    const round = new ReadRound(2, plan(['n1', 'n2']), 'merge', 8, 100);
    round.onSummary('n1', holding('merge', [{ c: { n1: 1 }, s: { n1: [1, 0] } }]).summary('k'));
    round.onSummary('n2', holding('merge', []).summary('k'));
    round.onState('n2', []);
    round.onFailure('n1');
    expect(round.decision?.kind).toBe('timeout');
  });
});
