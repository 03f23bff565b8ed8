import { describe, expect, it } from 'vitest';
import type { KnobSpec } from '@playground/core';
import { UsageError } from '@playground/node';
import { DEFAULT_SCENARIOS, DEFAULT_TOPOLOGIES, parseBenchArgs } from './args.js';

const KNOBS: KnobSpec[] = [
  { name: 'w', type: 'int', default: 2, min: 1, max: 32, help: 'write quorum' },
  { name: 'seed', type: 'int', default: 0, min: 0, help: 'a topology knob named like a bench flag' },
];

const fails = (argv: string[], message: RegExp): void => {
  expect(() => parseBenchArgs(argv, KNOBS)).toThrow(UsageError);
  expect(() => parseBenchArgs(argv, KNOBS)).toThrow(message);
};

describe('parseBenchArgs', () => {
  it('defaults to the three topologies and the default scenarios', () => {
    const o = parseBenchArgs([], KNOBS);
    expect(o.topologies).toEqual(DEFAULT_TOPOLOGIES);
    expect(o.scenarios).toEqual(DEFAULT_SCENARIOS);
    expect(o.durationS).toBe(6);
    expect(o.endpoints).toBeNull();
  });

  it('accepts lists, all, knobs and endpoints', () => {
    const o = parseBenchArgs(['--topology', 'raft,crdt', '--scenario', 'all', '--w', '3', '--seed', '9'], KNOBS);
    expect(o.topologies).toEqual(['raft', 'crdt']);
    expect(o.scenarios).toHaveLength(6);
    expect(o.knobs).toEqual({ w: '3' }); // --seed is the bench's own, not passed to the nodes
    expect(o.seed).toBe(9);
    const e = parseBenchArgs(['--topology', 'raft', '--endpoints', 'n1=http://127.0.0.1:8001,n2=http://127.0.0.1:8002'], KNOBS);
    expect(e.endpoints).toEqual([{ id: 'n1', url: 'http://127.0.0.1:8001' }, { id: 'n2', url: 'http://127.0.0.1:8002' }]);
    expect(parseBenchArgs(['--topology', 'all'], KNOBS, {}, true).topologies).toContain('etcd');
    expect(parseBenchArgs(['--topology', 'all'], KNOBS, {}, false).topologies).not.toContain('etcd');
  });

  it('names the flag and the allowed values on bad input', () => {
    fails(['--topology', 'paxos'], /--topology paxos: expected one of raft, leaderless, crdt, etcd, all/);
    fails(['--scenario', 'meteor'], /--scenario meteor: expected one of steady, .*kill-leader, all/);
    fails(['--duration', '0'], /--duration 0: expected an integer in 3\.\.3600/);
    fails(['--rate', 'fast'], /--rate fast: expected an integer/);
    fails(['--read-fraction', '2'], /--read-fraction 2: expected a number in 0\.\.1/);
    fails(['--frobnicate'], /unknown flag --frobnicate/);
    fails(['--rate'], /--rate needs a value/);
    fails(['extra'], /unexpected argument "extra"/);
    fails(['--endpoints', 'n1=http://a:1'], /exactly one --topology/);
    fails(['--topology', 'raft', '--endpoints', 'nonsense'], /--endpoints nonsense: expected id=http/);
  });
});
