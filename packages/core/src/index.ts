export * from './assert.js';
export * from './crc32.js';
export * from './errors.js';
export * from './ids.js';
export * from './result.js';
export * from './rng.js';
export * from './topology.js';
export * as vclock from './vclock.js';
export type { VClock, Order } from './vclock.js';
