/**
 * Consistency checkers shared by the simulator and the bench harness. Pure functions over a
 * history (see history.ts); the only I/O-shaped helpers are the JSON-lines (de)serializers.
 */
export * from './history.js';
export * from './linearizable.js';
export * from './counter-bounds.js';
export * from './convergence.js';
export * from './idempotency.js';
