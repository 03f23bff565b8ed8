/**
 * The per-request consistency knobs of the CRDT topology, as Akka Distributed Data names them
 * (WriteLocal / WriteMajority / WriteAll; ReadLocal / ReadMajority / ReadAll): how many replicas,
 * this one included, must hold an increment before it is acknowledged, or be merged from before
 * a count is answered.
 */
export type Replicas = '1' | 'majority' | 'all';

const ALLOWED: readonly string[] = ['1', 'majority', 'all', 'local'];

/** The parameter's value, or an error message naming what is allowed. */
export function parseReplicas(value: unknown, field: 'w' | 'r'): Replicas | { error: string } {
  if (value === undefined || value === null || value === '') return '1';
  const text = typeof value === 'number' ? String(value) : value;
  if (typeof text !== 'string' || !ALLOWED.includes(text)) {
    return { error: `${JSON.stringify(value)} is not one of 1, majority, all (${field === 'w' ? 'replicas that must hold the increment' : 'replicas merged before answering'})` };
  }
  return text === 'local' ? '1' : (text as Replicas);
}

/** How many replicas, this one included, a level needs among `members`. */
export function replicasNeeded(level: Replicas, members: number): number {
  if (level === '1') return 1;
  if (level === 'majority') return Math.floor(members / 2) + 1;
  return members;
}
