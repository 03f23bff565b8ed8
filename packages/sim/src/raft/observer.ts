/**
 * Raft's safety properties, checked as the run goes (Raft Figure 3), from what the simulated
 * drivers see. Any violation throws SimViolation at once, with the evidence.
 * - Election Safety: at most one leader per term.
 * - State Machine Safety / committed entries never lost: once any node applied entry e at
 *   index i, every node that applies index i applies e (so applied prefixes are identical).
 * - Leader Completeness: a leader of term t holds every entry committed in an earlier term. The
 *   observer does not see commit terms; it knows that an entry applied by a node in term u was
 *   committed in a term <= u, so it checks the entries applied in terms < t (sound, a bit weaker).
 * - Log Matching (checkLogMatching, at phase ends): two logs with an entry of the same index
 *   and term are identical up to it.
 */
import type { NodeId } from '@playground/core';
import { SimViolation } from '../simulation.js';
import type { Entry, RaftCore } from './deps.js';

export class RaftObserver {
  /** term -> the node that led it. */
  readonly leaders = new Map<number, NodeId>();
  /** index -> the entry first applied there (by anyone). */
  private readonly applied: Entry[] = [];
  /** index -> the lowest term a node applying it was in (an upper bound of its commit term). */
  private readonly appliedInTerm: number[] = [];
  elections = 0;

  noteLeader(id: NodeId, core: RaftCore): void {
    const term = core.term;
    const known = this.leaders.get(term);
    if (known !== undefined && known !== id) {
      throw new SimViolation(`election safety: two leaders in term ${term}: ${known} and ${id}`);
    }
    if (known === undefined) this.elections++;
    this.leaders.set(term, id);
    for (let index = 1; index <= this.applied.length; index++) {
      const entry = this.applied[index - 1] as Entry;
      if ((this.appliedInTerm[index - 1] as number) >= term) continue;
      const mine = core.entryAt(index);
      if (mine === undefined || !sameEntry(mine, entry)) {
        throw new SimViolation(
          `leader completeness: ${id}, leader of term ${term}, has ${show(mine)} at index ${index}, ` +
            `but ${show(entry)} was committed and applied there`,
        );
      }
    }
  }

  noteApplied(id: NodeId, entry: Entry, termNow: number): void {
    const first = this.applied[entry.index - 1];
    if (first === undefined) {
      if (entry.index !== this.applied.length + 1) {
        throw new SimViolation(`${id} applied index ${entry.index} before anyone applied ${this.applied.length + 1}`);
      }
      this.applied.push(entry);
      this.appliedInTerm.push(termNow);
      return;
    }
    if (termNow < (this.appliedInTerm[entry.index - 1] as number)) this.appliedInTerm[entry.index - 1] = termNow;
    if (!sameEntry(first, entry)) {
      throw new SimViolation(
        `state machine safety: ${id} applied ${show(entry)} at index ${entry.index}, ` +
          `where ${show(first)} had been applied before (a committed entry was lost)`,
      );
    }
  }

  get appliedCount(): number {
    return this.applied.length;
  }

  /** The committed log as applied (identical on every node, or noteApplied threw). */
  appliedLog(): readonly Entry[] {
    return this.applied;
  }
}

/** Log Matching (§5.3) over the live nodes' logs: returns a violation or null. */
export function checkLogMatching(cores: ReadonlyMap<NodeId, RaftCore>): string | null {
  const list = [...cores];
  for (let a = 0; a < list.length; a++) {
    for (let b = a + 1; b < list.length; b++) {
      const [idA, coreA] = list[a] as [NodeId, RaftCore];
      const [idB, coreB] = list[b] as [NodeId, RaftCore];
      // The highest index where both logs hold the same term: everything up to it must match.
      let top = 0;
      for (let i = Math.min(coreA.lastIndex, coreB.lastIndex); i >= 1; i--) {
        if (coreA.termAt(i) === coreB.termAt(i)) {
          top = i;
          break;
        }
      }
      for (let i = 1; i <= top; i++) {
        const ea = coreA.entryAt(i) as Entry;
        const eb = coreB.entryAt(i) as Entry;
        if (!sameEntry(ea, eb)) {
          return `log matching: ${idA} and ${idB} agree on term ${coreA.termAt(top)} at index ${top} but differ at ${i}: ${show(ea)} vs ${show(eb)}`;
        }
      }
    }
  }
  return null;
}

export function sameEntry(a: Entry, b: Entry): boolean {
  if (a.index !== b.index || a.term !== b.term) return false;
  const ca = a.command;
  const cb = b.command;
  if (ca === null || cb === null) return ca === cb;
  return ca.key === cb.key && ca.delta === cb.delta && ca.idem === cb.idem && ca.proposedAtMs === cb.proposedAtMs;
}

function show(e: Entry | undefined): string {
  if (e === undefined) return 'nothing';
  const c = e.command;
  return `{index ${e.index}, term ${e.term}, ${c === null ? 'no-op' : `incr ${c.key} ${c.delta}${c.idem === undefined ? '' : ` idem ${c.idem}`}`}}`;
}
