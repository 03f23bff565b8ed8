/**
 * No acknowledged increment lost, none applied twice, by idempotency key.
 *
 * From the history alone: the attempts sharing an idempotency key must be the same increment
 * (same delta), and every ok attempt must report the same `value` (a repeat returns the first
 * outcome, contract POST /incr). With `applied` (how often each key was applied, from a replica's
 * state machine, e.g. in the simulator): an acknowledged key exactly once, an indeterminate one
 * at most once, a failed one never.
 */
import { logicalIncrements, type Op, type Verdict } from './history.js';

export interface AppliedCount {
  key: string;
  idempotencyKey: string;
  count: number;
}

export function checkNoDuplicates(ops: readonly Op[], applied?: readonly AppliedCount[]): Verdict {
  const problems: string[] = [];
  const excerpt: Op[] = [];
  let lost = 0;
  let duplicated = 0;
  const incrs = logicalIncrements(ops).filter((i) => i.idempotencyKey !== undefined);
  for (const incr of incrs) {
    const deltas = new Set(incr.attempts.map((a) => a.delta ?? 1));
    if (deltas.size > 1) {
      problems.push(`idempotency key ${incr.idempotencyKey} used with different deltas (${[...deltas].join(', ')})`);
      excerpt.push(...incr.attempts);
    }
    const values = new Set(incr.attempts.filter((a) => a.outcome === 'ok' && a.value !== undefined).map((a) => a.value));
    if (values.size > 1) {
      problems.push(`idempotency key ${incr.idempotencyKey} acknowledged with different values (${[...values].join(', ')}): applied more than once`);
      excerpt.push(...incr.attempts);
      duplicated++;
    }
  }
  if (applied !== undefined) {
    const counts = new Map(applied.map((a) => [`${a.key}\u0000${a.idempotencyKey}`, a.count]));
    for (const incr of incrs) {
      const count = counts.get(`${incr.key}\u0000${incr.idempotencyKey}`) ?? 0;
      const name = `increment ${incr.idempotencyKey} on ${incr.key}`;
      if (count > 1) {
        duplicated++;
        problems.push(`${name} applied ${count} times`);
        excerpt.push(...incr.attempts);
      } else if (incr.outcome === 'ok' && count === 0) {
        lost++;
        problems.push(`acknowledged ${name} never applied (lost)`);
        excerpt.push(...incr.attempts);
      } else if (incr.outcome === 'fail' && count > 0) {
        problems.push(`${name} failed (surely not applied) yet was applied`);
        excerpt.push(...incr.attempts);
      }
    }
  }
  const details = { idempotentIncrements: incrs.length, lost, duplicated, problems: problems.slice(0, 50) };
  if (problems.length > 0) {
    return {
      checker: 'no-duplicates',
      valid: false,
      summary: `${problems.length} problem(s): ${problems.slice(0, 3).join('; ')}${problems.length > 3 ? '; ...' : ''}`,
      excerpt: excerpt.slice(0, 40),
      details,
    };
  }
  return {
    checker: 'no-duplicates',
    valid: true,
    summary:
      applied === undefined
        ? `${incrs.length} idempotent increment(s) consistent across retries`
        : `${incrs.length} idempotent increment(s) each applied as promised`,
    details,
  };
}
