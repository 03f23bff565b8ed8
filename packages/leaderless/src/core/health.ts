import type { NodeId, RpcFailure } from '@playground/core';

/**
 * What this node believes about each peer's reachability: a local, eventually correct failure
 * detector (Dynamo §4.8.3: a node considers a peer failed when it does not answer, and checks
 * it again periodically). The coordinator uses it to choose where a request goes, and to refuse
 * with 503 *before* sending anything when too few replicas are reachable: that refusal is the
 * only quorum failure that is surely not applied anywhere.
 */
export class PeerHealth {
  private readonly down = new Set<NodeId>();

  constructor(private readonly self: NodeId) {}

  isUp(peer: NodeId): boolean {
    return peer === this.self || !this.down.has(peer);
  }

  recordSuccess(peer: NodeId): void {
    this.down.delete(peer);
  }

  /** A peer that answered an error is alive; one that did not answer, or cannot be sent to, is not. */
  recordFailure(peer: NodeId, failure: RpcFailure): void {
    if (peer !== this.self && failure.kind !== 'remote_error' && failure.kind !== 'overloaded') this.down.add(peer);
  }

  downPeers(): NodeId[] {
    return [...this.down].sort();
  }
}
