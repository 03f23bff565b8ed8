/**
 * The leaderless code under test: its simulated driver over the pure core, through the package's
 * sans-I/O entry point (not its index, which also loads the HTTP driver and the file store that
 * the simulator replaces).
 */
export { leaderlessSimTopology, LeaderlessSimNode } from '@playground/leaderless/sim';
export type { LeaderlessSimOptions, LeaderlessSimTopology } from '@playground/leaderless/sim';
