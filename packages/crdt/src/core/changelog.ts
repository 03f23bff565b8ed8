/**
 * What changed in a replica, by local version, for delta-state replication (Almeida, Shoker,
 * Baquero 2018, Algorithm 2): a peer that acknowledged version v is sent what changed after v.
 * Bound: maxChanges entries; at the bound the oldest half is forgotten, and a peer that had not
 * acknowledged them gets the full state instead (as after a long partition or a restart).
 */
import type { NodeId } from '@playground/core';

export type ChangeRef =
  | { readonly kind: 'plain'; readonly origin: NodeId; readonly key: string }
  | { readonly kind: 'dot'; readonly origin: NodeId; readonly seq: number }
  | { readonly kind: 'compacted'; readonly origin: NodeId };

interface Change {
  readonly version: number;
  readonly ref: ChangeRef;
  /** The peer whose message brought it: a delta never goes back to its source. */
  readonly source: NodeId | null;
}

export class ChangeLog {
  private changes: Change[] = [];
  /** Deltas are available to a peer that acknowledged any version >= floor. */
  private floor = 0;
  version = 0;

  constructor(private readonly maxChanges: number) {}

  get length(): number {
    return this.changes.length;
  }

  record(ref: ChangeRef, source: NodeId | null): void {
    this.version++;
    this.changes.push({ version: this.version, ref, source });
    if (this.changes.length > this.maxChanges) {
      const dropped = this.changes.splice(0, Math.ceil(this.changes.length / 2));
      this.floor = (dropped[dropped.length - 1] as Change).version;
    }
  }

  trim(acknowledgedByAll: number): void {
    if (acknowledgedByAll <= this.floor) return;
    let drop = 0;
    while (drop < this.changes.length && (this.changes[drop] as Change).version <= acknowledgedByAll) drop++;
    this.changes.splice(0, drop);
    this.floor = acknowledgedByAll;
  }

  /** The entries changed after `acknowledged` and not brought by `peer`, once each; null if forgotten. */
  since(acknowledged: number, peer: NodeId | null): ChangeRef[] | null {
    if (acknowledged < this.floor) return null;
    let lo = 0;
    let hi = this.changes.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.changes[mid] as Change).version <= acknowledged) lo = mid + 1;
      else hi = mid;
    }
    const refs = new Map<string, ChangeRef>();
    for (let i = lo; i < this.changes.length; i++) {
      const { ref, source } = this.changes[i] as Change;
      if (source !== null && source === peer) continue;
      const id = ref.kind === 'plain' ? `p ${ref.origin} ${ref.key}` : ref.kind === 'dot' ? `d ${ref.origin} ${ref.seq}` : `c ${ref.origin}`;
      refs.set(id, ref);
    }
    return [...refs.values()];
  }
}
