import { assert } from '@playground/core';
import type { NodeId } from '@playground/core';
import { hash32 } from './hash.js';

/**
 * A consistent-hash ring with virtual nodes (Dynamo §4.2): each node owns `vnodes` tokens, a
 * key's position is its hash, and walking clockwise from it yields the key's preference list,
 * skipping tokens of nodes already listed so that the list names distinct nodes (§4.3).
 */
export class Ring {
  private readonly tokens: Uint32Array;
  private readonly owners: NodeId[];
  readonly nodes: readonly NodeId[];

  constructor(nodes: readonly NodeId[], vnodes: number) {
    assert(nodes.length > 0, 'a ring needs at least one node');
    assert(Number.isInteger(vnodes) && vnodes >= 1, `vnodes must be a positive integer, got ${vnodes}`);
    assert(new Set(nodes).size === nodes.length, 'ring nodes must be distinct');
    this.nodes = [...nodes];
    const points: { token: number; node: NodeId }[] = [];
    for (const node of nodes) {
      for (let v = 0; v < vnodes; v++) points.push({ token: hash32(`${node}#${v}`), node });
    }
    // Ties between tokens are broken by node id so that every member builds the same ring.
    points.sort((a, b) => a.token - b.token || (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
    this.tokens = Uint32Array.from(points.map((p) => p.token));
    this.owners = points.map((p) => p.node);
  }

  /** Every node, in the order the ring visits them from the key's position clockwise. */
  walk(key: string): NodeId[] {
    const start = this.firstTokenAtOrAfter(hash32(key));
    const seen = new Set<NodeId>();
    const out: NodeId[] = [];
    for (let i = 0; i < this.owners.length && out.length < this.nodes.length; i++) {
      const node = this.owners[(start + i) % this.owners.length] as NodeId;
      if (!seen.has(node)) {
        seen.add(node);
        out.push(node);
      }
    }
    return out;
  }

  /** The N nodes that hold the key (Dynamo §4.3). */
  preferenceList(key: string, n: number): NodeId[] {
    assert(n >= 1 && n <= this.nodes.length, `n=${n} must be within 1..${this.nodes.length}`);
    return this.walk(key).slice(0, n);
  }

  private firstTokenAtOrAfter(position: number): number {
    let lo = 0;
    let hi = this.tokens.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.tokens[mid] as number) < position) lo = mid + 1;
      else hi = mid;
    }
    return lo === this.tokens.length ? 0 : lo;
  }
}
