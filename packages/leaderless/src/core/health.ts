import type { NodeId, RpcFailure } from '@playground/core';

/**
 * What this node believes about each peer's reachability: a local, eventually correct failure
 * detector (Dynamo §4.8.3: a node considers a peer failed when it does not answer, and checks
 * it again periodically). The coordinator uses it to choose where a request goes, and to refuse
 * with 503 *before* sending anything when too few replicas are reachable: that refusal is the
 * only quorum failure that is surely not applied anywhere.
 */
export class PeerHealth {
  private readonly failures = new Map<NodeId, number>();

  /**
   * @param failuresToSuspect consecutive failures before a peer counts as down: one slow answer
   * on a loaded machine should not take a replica out of every quorum.
   */
  constructor(
    private readonly self: NodeId,
    private readonly failuresToSuspect = 2,
  ) {}

  isUp(peer: NodeId): boolean {
    return peer === this.self || (this.failures.get(peer) ?? 0) < this.failuresToSuspect;
  }

  recordSuccess(peer: NodeId): void {
    this.failures.delete(peer);
  }

  /** A peer that answered an error is alive; one that did not answer, or cannot be sent to, is not. */
  recordFailure(peer: NodeId, failure: RpcFailure): void {
    if (peer === this.self || failure.kind === 'remote_error' || failure.kind === 'overloaded') return;
    this.failures.set(peer, (this.failures.get(peer) ?? 0) + 1);
  }

  downPeers(): NodeId[] {
    return [...this.failures.keys()].filter((p) => !this.isUp(p)).sort();
  }
}
