/** The deterministic simulator: virtual time, seeded network and disks, crashes, any pure core. */
export * from './topology.js';
export { Simulation, SimViolation, type SimulationOptions } from './simulation.js';
export { SimNetwork, RELIABLE, type NetworkOptions, type NetworkStats } from './network.js';
export { SimDisk } from './disk.js';
export { EventQueue } from './event-queue.js';
export { ClientPool, CLIENT_DEFAULTS, type ClientOptions } from './clients.js';
export { applyPartition, PARTITION_SHAPES, type PartitionShape } from './faults.js';
export { optionsForSeed, describeOptions, type RunOptions, type RunOverrides } from './options.js';
export { runSeed, type RunResult } from './run.js';
export { raftTopology, leaderOf, type RaftTopology, type RaftTopologyOptions } from './raft/topology.js';
export { RaftSimNode, type CoreFactory } from './raft/adapter.js';
export { runRaftSeed, replayCommand } from './raft/run.js';
export { RaftCluster, type ClusterOptions, type Request } from './raft/harness.js';
export { runTopologySeed, replayCommandFor, describeTopology, leaderlessKnobsForSeed, isSimTopologyName, SIM_TOPOLOGIES, type SimTopologyName, type TopologyFlags } from './topologies.js';
