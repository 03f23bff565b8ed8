import { assert } from '@playground/core';
import type { RaftLog } from './log.js';
import type { AppendRequest, AppendResponse, Entry, Heartbeat, HeartbeatResponse } from './types.js';

/**
 * The follower's side of AppendEntries (Raft §5.3, Figure 2 "Receiver implementation"):
 * the consistency check, the overwrite of a conflicting suffix, the commit rule, and the fast
 * backup hint. Returns the answer, which the caller queues in the same Ready as the entries
 * (so it leaves only once they are durable), or null for an ill-formed request.
 */
export function receiveAppend(log: RaftLog, m: AppendRequest, term: number): AppendResponse | null {
  if (!wellFormed(m)) return null;
  const reply = (reject: boolean, index: number, hintTerm = 0, hintIndex = 0): AppendResponse => ({
    type: 'app_resp', from: m.to, to: m.from, term, reject, index, hintTerm, hintIndex,
  });
  const commit = log.commitIndex;
  // Everything through commit already matches any current leader's log (Leader Completeness, §5.4).
  if (m.prevIndex < commit) return reply(false, commit);
  const termAtPrev = log.termAt(m.prevIndex);
  if (termAtPrev === m.prevTerm) {
    log.appendFromLeader(m.entries);
    const lastNew = m.prevIndex + m.entries.length;
    // Figure 2: commit = min(leaderCommit, index of last new entry); entries past lastNew may be stale.
    log.commitTo(Math.min(m.commit, lastNew));
    return reply(false, lastNew);
  }
  // Fast backup: name our conflicting term and where it starts, so the leader skips it whole.
  if (termAtPrev === undefined) return reply(true, m.prevIndex, 0, log.lastIndex + 1);
  assert(m.prevIndex > commit, () => `committed entry ${m.prevIndex} differs from the leader's`);
  return reply(true, m.prevIndex, termAtPrev, Math.max(log.firstIndexOfTerm(termAtPrev), commit + 1));
}

/** A heartbeat carries min(leader commit, our match) (etcd), so it never commits a stale entry. */
export function receiveHeartbeat(log: RaftLog, m: Heartbeat, term: number): HeartbeatResponse {
  log.commitTo(Math.min(m.commit, log.lastIndex));
  return { type: 'hb_resp', from: m.to, to: m.from, term, context: m.context };
}

/** Entries must follow prevIndex contiguously and carry terms no newer than the sender's. */
function wellFormed(m: AppendRequest): boolean {
  if (!Number.isInteger(m.prevIndex) || m.prevIndex < 0 || !(m.commit >= 0)) return false;
  for (let i = 0; i < m.entries.length; i++) {
    const e = m.entries[i] as Entry;
    if (e.index !== m.prevIndex + 1 + i || !(e.term >= 1 && e.term <= m.term)) return false;
  }
  return true;
}
