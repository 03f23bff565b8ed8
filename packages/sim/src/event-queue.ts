/**
 * The simulator's agenda: events ordered by virtual time, ties broken by insertion order so that
 * a run is a pure function of its seed. A binary heap; no allocation beyond the entry itself.
 */
import { assert } from '@playground/core';

interface Scheduled {
  readonly atMs: number;
  readonly seq: number;
  readonly run: () => void;
}

export class EventQueue {
  private readonly heap: Scheduled[] = [];
  private seq = 0;
  private nowMs = 0;
  /** Events run so far (for throughput figures). */
  executed = 0;

  get now(): number {
    return this.nowMs;
  }

  get size(): number {
    return this.heap.length;
  }

  /** Runs `run` at now + delayMs (delay >= 0). */
  after(delayMs: number, run: () => void): void {
    // Checked without building a message closure on the hot path.
    if (!(delayMs >= 0 && delayMs < Infinity)) assert(false, `event delay must be finite and >= 0, got ${delayMs}`);
    this.push({ atMs: this.nowMs + delayMs, seq: this.seq++, run });
  }

  /** Runs events in order until the agenda is empty or the next one is after `untilMs`; time ends at untilMs. */
  runUntil(untilMs: number, stop?: () => boolean): void {
    while (this.heap.length > 0 && (this.heap[0] as Scheduled).atMs <= untilMs) {
      const event = this.pop();
      this.nowMs = event.atMs;
      this.executed++;
      event.run();
      if (stop?.() === true) return;
    }
    this.nowMs = Math.max(this.nowMs, untilMs);
  }

  private push(item: Scheduled): void {
    const heap = this.heap;
    heap.push(item);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(item, heap[parent] as Scheduled)) break;
      heap[i] = heap[parent] as Scheduled;
      i = parent;
    }
    heap[i] = item;
  }

  private pop(): Scheduled {
    const heap = this.heap;
    const top = heap[0] as Scheduled;
    const last = heap.pop() as Scheduled;
    if (heap.length > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= heap.length) break;
        const r = l + 1;
        const child = r < heap.length && before(heap[r] as Scheduled, heap[l] as Scheduled) ? r : l;
        if (!before(heap[child] as Scheduled, last)) break;
        heap[i] = heap[child] as Scheduled;
        i = child;
      }
      heap[i] = last;
    }
    return top;
  }
}

function before(a: Scheduled, b: Scheduled): boolean {
  return a.atMs < b.atMs || (a.atMs === b.atMs && a.seq < b.seq);
}
