/**
 * What the store holds, in the wire's compact encoding: a log record is one delta, the
 * snapshot is the full state plus the local tombstones (folded idempotency keys, oldest first).
 * Read back through the same strict parser as a peer message: a damaged file is refused with
 * a message, never half-merged.
 */
import { CounterCrdt } from './core/counter.js';
import type { Dot, StateDelta } from './core/types.js';
import { encodeState, WireParser, type WireState } from './core/wire.js';

const SNAPSHOT_VERSION = 1;

export interface SnapshotBody {
  readonly v: number;
  readonly state: WireState;
  readonly tombstones: WireState;
}

export function encodeRecord(delta: StateDelta): WireState {
  return encodeState(delta);
}

export function encodeSnapshot(crdt: CounterCrdt): SnapshotBody {
  const tombstones = crdt.exportTombstones().flat();
  return { v: SNAPSHOT_VERSION, state: encodeState(crdt.fullState()), tombstones: encodeState({ plain: [], dots: tombstones, compacted: [] }) };
}

/** Rebuilds state from a snapshot (or nothing) and the log records after it. */
export function recover(crdt: CounterCrdt, parser: WireParser, snapshot: unknown, records: readonly unknown[]): void {
  if (snapshot !== null) {
    const body = snapshot as Partial<SnapshotBody>;
    if (body.v !== SNAPSHOT_VERSION) throw new Error(`snapshot format ${String(body.v)} is not ${SNAPSHOT_VERSION}`);
    crdt.merge(parser.state(body.state));
    const folded = parser.state(body.tombstones).dots;
    const groups: Dot[][] = [];
    for (const dot of folded) {
      const last = groups[groups.length - 1];
      if (last && (last[0] as Dot).idem === dot.idem) last.push(dot);
      else groups.push([dot]);
    }
    crdt.importTombstones(groups);
  }
  for (const record of records) crdt.merge(parser.state(record));
}
