/** Builders for hand-made histories in tests: `incr(0, 1)` is an ok increment invoked at 0, completed at 1. */
import type { Op } from './history.js';

export class HistoryBuilder {
  readonly ops: Op[] = [];
  constructor(private readonly key = 'k') {}

  incr(invokeMs: number, completeMs: number, more: Partial<Op> = {}): this {
    this.ops.push({
      id: this.ops.length,
      process: more.process ?? this.ops.length,
      node: 'n1',
      key: this.key,
      type: 'incr',
      delta: 1,
      invokeMs,
      completeMs,
      outcome: 'ok',
      ...more,
    });
    return this;
  }

  read(invokeMs: number, completeMs: number, value: number, more: Partial<Op> = {}): this {
    this.ops.push({
      id: this.ops.length,
      process: more.process ?? this.ops.length,
      node: 'n1',
      key: this.key,
      type: 'read',
      value,
      invokeMs,
      completeMs,
      outcome: 'ok',
      ...more,
    });
    return this;
  }
}

export const history = (key?: string): HistoryBuilder => new HistoryBuilder(key);
