/**
 * A tiny synchronous network for the core's tests: every node's Ready is "persisted" by calling
 * advance() at once (unless its persistence is held), and messages are delivered in FIFO order
 * unless a link is cut. Deterministic: same seed, same run.
 */
import { Rng } from '@playground/core';
import type { NodeId } from '@playground/core';
import { RAFT_DEFAULTS } from './config.js';
import type { RaftConfig, RaftRestoreState } from './config.js';
import { RaftCore } from './raft.js';
import type { Command, Entry, HardState, Message, ReadState, Ready } from './types.js';

export interface NetworkOptions {
  readonly ids?: readonly NodeId[];
  readonly seed?: number;
  readonly config?: Partial<Omit<RaftConfig, 'id' | 'peers' | 'rng'>>;
  readonly restored?: Readonly<Record<NodeId, RaftRestoreState>>;
  /** Delivers each round's messages in a random order drawn from this seed. */
  readonly reorderSeed?: number;
}

/** What a node's driver has made durable: restart() boots from it, as a real node would. */
interface Disk {
  hardState: HardState;
  entries: Entry[];
}

export const EMPTY: RaftRestoreState = { hardState: { term: 0, vote: null, commit: 0 }, entries: [] };

export function incr(delta = 1): Command {
  return { kind: 'incr', key: 'counter', delta, proposedAtMs: 0 };
}

/** A log of `terms.length` entries whose entry i+1 has term terms[i]. */
export function logOfTerms(terms: readonly number[]): Entry[] {
  return terms.map((term, i) => ({ term, index: i + 1, command: incr(i + 1) }));
}

export class Network {
  readonly ids: readonly NodeId[];
  readonly nodes = new Map<NodeId, RaftCore>();
  readonly applied = new Map<NodeId, Entry[]>();
  readonly readStates = new Map<NodeId, ReadState[]>();
  /** Every message delivered, in order (cut messages are not in it). */
  readonly delivered: Message[] = [];
  /** Filters run on every message before delivery: return false to drop it. */
  readonly filters: ((m: Message) => boolean)[] = [];
  private readonly cut = new Set<string>();
  private readonly held = new Map<NodeId, Ready[]>();
  private queue: Message[] = [];
  private readonly disks = new Map<NodeId, Disk>();
  private readonly rng: Rng;
  private readonly reorder: Rng | null;

  constructor(private readonly options: NetworkOptions = {}) {
    this.ids = options.ids ?? ['n1', 'n2', 'n3'];
    this.rng = new Rng(options.seed ?? 1);
    this.reorder = options.reorderSeed === undefined ? null : new Rng(options.reorderSeed);
    for (const id of this.ids) {
      const restored = options.restored?.[id] ?? EMPTY;
      this.disks.set(id, { hardState: restored.hardState, entries: [...restored.entries] });
      this.boot(id);
    }
  }

  /** Crash and recover: the node loses everything but its disk (and unpersisted Readys). */
  restart(id: NodeId): void {
    this.held.delete(id);
    this.queue = this.queue.filter((m) => m.from !== id && m.to !== id);
    this.boot(id);
  }

  private boot(id: NodeId): void {
    const disk = this.disks.get(id) as Disk;
    const config: RaftConfig = { ...RAFT_DEFAULTS, ...this.options.config, id, peers: this.ids, rng: this.rng.fork() };
    this.nodes.set(id, new RaftCore(config, { hardState: disk.hardState, entries: [...disk.entries] }));
    this.applied.set(id, []); // the state machine replays the log from index 1
    this.readStates.set(id, []);
  }

  private persist(id: NodeId, ready: Ready): void {
    const disk = this.disks.get(id) as Disk;
    if (ready.hardState !== null) disk.hardState = ready.hardState;
    const first = ready.entries[0];
    if (first !== undefined) {
      disk.entries.length = first.index - 1; // an entry at an existing index overwrites the suffix
      disk.entries.push(...ready.entries);
    }
  }

  node(id: NodeId): RaftCore {
    const node = this.nodes.get(id);
    if (node === undefined) throw new Error(`no node ${id}`);
    return node;
  }

  leaders(): RaftCore[] {
    return [...this.nodes.values()].filter((n) => n.role === 'leader');
  }

  /** Cuts every link between `id` and the others, both ways. */
  isolate(id: NodeId): void {
    for (const other of this.ids) {
      if (other === id) continue;
      this.cut.add(`${id}>${other}`);
      this.cut.add(`${other}>${id}`);
    }
  }

  heal(): void {
    this.cut.clear();
  }

  /** Until released, `id` hands out Readys and sends their messages but never persists them. */
  holdPersistence(id: NodeId): void {
    this.held.set(id, []);
  }

  releasePersistence(id: NodeId): void {
    const readys = this.held.get(id) ?? [];
    this.held.delete(id);
    for (const ready of readys) {
      this.persist(id, ready);
      this.node(id).advance(ready);
    }
    this.stabilize();
  }

  /** Runs Ready/advance and delivery until nothing moves. */
  stabilize(maxRounds = 100_000): void {
    for (let round = 0; round < maxRounds; round++) {
      let moved = false;
      for (const [id, node] of this.nodes) {
        if (!node.hasReady()) continue;
        moved = true;
        const ready = node.ready();
        (this.applied.get(id) as Entry[]).push(...ready.committed);
        (this.readStates.get(id) as ReadState[]).push(...ready.readStates);
        this.queue.push(...ready.messages);
        const held = this.held.get(id);
        if (held !== undefined) {
          held.push(ready);
        } else {
          this.persist(id, ready);
          node.advance(ready);
        }
      }
      const batch = this.queue;
      this.queue = [];
      if (this.reorder !== null) this.reorder.shuffle(batch);
      for (const m of batch) {
        moved = true;
        if (this.cut.has(`${m.from}>${m.to}`) || !this.filters.every((f) => f(m))) continue;
        this.delivered.push(m);
        this.node(m.to).step(m);
      }
      if (!moved) return;
    }
    throw new Error('network did not stabilize');
  }

  tick(times = 1, only?: readonly NodeId[]): void {
    for (let t = 0; t < times; t++) {
      for (const id of only ?? this.ids) this.node(id).tick();
      this.stabilize();
    }
  }

  /** Ticks until `done` holds; returns the ticks it took, or throws past `maxTicks`. */
  tickUntil(done: () => boolean, maxTicks = 1000): number {
    for (let t = 0; t < maxTicks; t++) {
      if (done()) return t;
      this.tick();
    }
    if (done()) return maxTicks;
    throw new Error(`condition not met within ${maxTicks} ticks`);
  }

  /** Makes `id` campaign now and settles; returns it. */
  elect(id: NodeId): RaftCore {
    this.node(id).campaign();
    this.stabilize();
    return this.node(id);
  }
}
