import { describe, expect, it } from 'vitest';
import type { Op } from '@playground/checkers';
import { availability, histogramsOf, labelOps, longestWriteGap } from './measures.js';
import { schedulePhases, type PhaseWindow } from './scenarios.js';

let id = 0;
const op = (node: string, type: 'incr' | 'read', invokeMs: number, completeMs: number, outcome: Op['outcome']): Op => ({
  id: id++, process: id, node, key: 'k', type, invokeMs, completeMs, outcome, ...(type === 'incr' ? { delta: 1 } : { value: 0 }),
});

describe('measures', () => {
  const windows = schedulePhases(3000);
  const ops = labelOps(
    [
      op('n1', 'incr', 100, 110, 'ok'),
      op('n2', 'incr', 200, 220, 'ok'),
      op('n1', 'incr', 1100, 3000, 'info'),
      op('n1', 'read', 1200, 1201, 'fail'),
      op('n2', 'incr', 1300, 1310, 'ok'),
      op('n2', 'incr', 2500, 2510, 'ok'),
    ],
    windows,
    { n1: 'minority', n2: 'majority' },
  );

  it('files each op under its phase (by invocation) and its node side', () => {
    expect(ops.map((o) => `${o.phase}/${o.side}`)).toEqual(['before/minority', 'before/majority', 'during/minority', 'during/minority', 'during/majority', 'after/majority']);
  });

  it('availability counts ok, fail and unknown per phase, side and op', () => {
    const cells = availability(ops);
    const duringMinority = cells.find((c) => c.phase === 'during' && c.side === 'minority' && c.op === 'all');
    expect(duringMinority).toMatchObject({ total: 2, ok: 0, fail: 1, info: 1, fraction: 0 });
    const duringMajorityIncr = cells.find((c) => c.phase === 'during' && c.side === 'majority' && c.op === 'incr');
    expect(duringMajorityIncr).toMatchObject({ total: 1, ok: 1, fraction: 1 });
  });

  it('does not count a success that came only after its phase ended as available in that phase', () => {
    const windows: PhaseWindow[] = [
      { phase: 'before', startMs: 0, endMs: 1000 },
      { phase: 'during', startMs: 1000, endMs: 2000 },
      { phase: 'after', startMs: 2000, endMs: 3000 },
    ];
    const waited: Op[] = [
      { id: 0, process: 0, node: 'n3', key: 'k', type: 'incr', invokeMs: 1500, completeMs: 2100, outcome: 'ok', phase: 'during', side: 'minority' },
      { id: 1, process: 1, node: 'n3', key: 'k', type: 'incr', invokeMs: 1600, completeMs: 1700, outcome: 'ok', phase: 'during', side: 'minority' },
    ];
    const cell = availability(waited, windows).find((c) => c.phase === 'during' && c.op === 'incr');
    expect(cell).toMatchObject({ total: 2, ok: 1, late: 1, fraction: 0.5 });
    expect(availability(waited).find((c) => c.phase === 'during' && c.op === 'incr')).toMatchObject({ ok: 2, late: 0, fraction: 1 });
  });

  it('the longest write gap is the longest stretch without an acknowledged increment', () => {
    expect(longestWriteGap(ops, 0, 3000)).toEqual({ fromMs: 1310, toMs: 2510, lengthMs: 1200 });
    // The minority never acknowledged anything after 110 ms.
    expect(longestWriteGap(ops, 0, 3000, 'minority')).toEqual({ fromMs: 110, toMs: 3000, lengthMs: 2890 });
    expect(longestWriteGap([], 0, 3000)).toEqual({ fromMs: 0, toMs: 3000, lengthMs: 3000 });
  });

  it('histograms hold the successful operations only', () => {
    const set = histogramsOf('raft', ops);
    expect(set.merged().totalCount).toBe(4);
    expect(set.merged({ side: 'minority' }).totalCount).toBe(1);
  });
});
