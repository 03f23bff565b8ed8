export * from './flags.js';
export { spawnNode, NODE_MAIN, type NodeProcess, type NodeProcessOptions } from './spawn.js';
export { loadTopology } from './topologies.js';
