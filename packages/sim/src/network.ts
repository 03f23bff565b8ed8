/**
 * The simulated peer network: per-message delay and jitter, loss, duplication, occasional long
 * delays (which reorder), and partitions of any shape as a set of cut directed links. Client
 * traffic does not go through it (contract: partitions cut peer traffic only).
 */
import type { NodeId, Rng } from '@playground/core';
import type { EventQueue } from './event-queue.js';

export interface NetworkOptions {
  /** Base one-way delay. */
  delayMs: number;
  /** Uniform extra delay in [0, jitterMs). */
  jitterMs: number;
  lossRate: number;
  duplicateRate: number;
  /** Probability that a message is held up for [longDelayMs/2, longDelayMs): reordering. */
  longDelayRate: number;
  longDelayMs: number;
}

export const RELIABLE: NetworkOptions = { delayMs: 1, jitterMs: 2, lossRate: 0, duplicateRate: 0, longDelayRate: 0, longDelayMs: 0 };

export interface NetworkStats {
  sent: number;
  delivered: number;
  dropped: number;
  duplicated: number;
  /** Sent, by the topology's message type. */
  byType: Record<string, number>;
}

export class SimNetwork<Message> {
  options: NetworkOptions;
  /** from -> the peers it cannot reach. */
  private readonly cut = new Map<NodeId, Set<NodeId>>();
  readonly stats: NetworkStats = { sent: 0, delivered: 0, dropped: 0, duplicated: 0, byType: {} };
  /** Sees every message sent (before loss), for tests that count or inspect messages. */
  tap: ((from: NodeId, to: NodeId, message: Message) => void) | null = null;

  constructor(
    private readonly queue: EventQueue,
    private readonly rng: Rng,
    options: NetworkOptions,
    private readonly typeOf: (m: Message) => string,
  ) {
    this.options = { ...options };
  }

  /** Cuts from -> to (one direction). */
  cutLink(from: NodeId, to: NodeId): void {
    let targets = this.cut.get(from);
    if (targets === undefined) this.cut.set(from, (targets = new Set()));
    targets.add(to);
  }

  /** Cuts every link between the groups, both ways: a partition. */
  separate(groupA: readonly NodeId[], groupB: readonly NodeId[]): void {
    for (const a of groupA) {
      for (const b of groupB) {
        if (a === b) continue;
        this.cutLink(a, b);
        this.cutLink(b, a);
      }
    }
  }

  heal(): void {
    this.cut.clear();
  }

  isCut(from: NodeId, to: NodeId): boolean {
    return this.cut.size > 0 && this.cut.get(from)?.has(to) === true;
  }

  /** The cut links, for logs: `n1>n2 n2>n1`. */
  describeCuts(): string {
    const links = [...this.cut].flatMap(([from, targets]) => [...targets].map((to) => `${from}>${to}`));
    return links.sort().join(' ') || 'none';
  }

  /** Sends a message; `deliver` runs on arrival if the link is still up then. */
  send(from: NodeId, to: NodeId, message: Message, deliver: (m: Message) => void): void {
    this.stats.sent++;
    this.tap?.(from, to, message);
    const type = this.typeOf(message);
    this.stats.byType[type] = (this.stats.byType[type] ?? 0) + 1;
    const o = this.options;
    if (this.isCut(from, to) || this.rng.chance(o.lossRate)) {
      this.stats.dropped++;
      return;
    }
    const copies = this.rng.chance(o.duplicateRate) ? 2 : 1;
    if (copies === 2) this.stats.duplicated++;
    for (let i = 0; i < copies; i++) {
      let delay = o.delayMs + this.rng.float() * o.jitterMs;
      if (this.rng.chance(o.longDelayRate)) delay += o.longDelayMs * (0.5 + this.rng.float() / 2);
      this.queue.after(delay, () => {
        // A cable pulled while the message was in flight loses it too.
        if (this.isCut(from, to)) {
          this.stats.dropped++;
          return;
        }
        this.stats.delivered++;
        deliver(message);
      });
    }
  }
}
