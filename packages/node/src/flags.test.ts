import { describe, expect, it } from 'vitest';
import type { TopologyModule } from '@playground/core';
import { NODE_FLAGS, NO_SECRET_MESSAGE, knobFlagSpecs, nodeEnvName, parseNodeOptions, readFlags, UsageError } from './flags.js';

const fake: TopologyModule = {
  name: 'raft',
  knobs: [
    { name: 'heartbeat-ms', type: 'int', default: 50, min: 1, max: 1000, help: '' },
    { name: 'fsync', type: 'bool', default: true, help: '' },
    { name: 'resolve', type: 'enum', default: 'merge', values: ['merge', 'lww'], help: '' },
  ],
  checkKnobs: (k) => ((k['heartbeat-ms'] as number) > 500 ? '--heartbeat-ms too slow' : null),
  create: () => {
    throw new Error('not used');
  },
};
const specs = [...NODE_FLAGS, ...knobFlagSpecs(fake.knobs)];
const peers = 'n1=127.0.0.1:8001,n2=127.0.0.1:8002,n3=127.0.0.1:8003';

function parse(argv: string[], env: NodeJS.ProcessEnv = {}) {
  return parseNodeOptions(readFlags(argv, specs, env, nodeEnvName), fake);
}
function problem(argv: string[], env: NodeJS.ProcessEnv = {}): string {
  try {
    parse(argv, env);
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    expect((e as Error).message).not.toContain('\n');
    return (e as Error).message;
  }
  throw new Error('expected a usage error');
}

describe('node flags', () => {
  it('reads a full command line, the port defaulting to the peer list', () => {
    const o = parse(['--topology', 'raft', '--id', 'n2', '--peers', peers, '--secret', 'abcdefgh12', '--fsync', 'false']);
    expect(o).toMatchObject({ topology: 'raft', id: 'n2', port: 8002, host: '127.0.0.1', dataDir: '.data/n2', secret: 'abcdefgh12' });
    expect(o.knobs).toEqual({ 'heartbeat-ms': 50, fsync: false, resolve: 'merge' });
  });

  it('takes every flag from its environment twin (for containers)', () => {
    const o = parse([], {
      TOPOLOGY: 'raft', NODE_ID: 'n3', PORT: '9000', HOST: '0.0.0.0', PEERS: peers, DATA_DIR: '/data', CLUSTER_SECRET: 'from-the-env', HEARTBEAT_MS: '20',
    });
    expect(o).toMatchObject({ id: 'n3', port: 9000, host: '0.0.0.0', dataDir: '/data', secret: 'from-the-env' });
    expect(o.knobs['heartbeat-ms']).toBe(20);
  });

  it('lets a flag win over its environment twin', () => {
    expect(parse(['--id', 'n1'], { TOPOLOGY: 'raft', NODE_ID: 'n3', PEERS: peers, CLUSTER_SECRET: 'from-the-env' }).id).toBe('n1');
  });

  it('refuses to start without a secret, saying how to pass one, unless --insecure', () => {
    expect(problem(['--topology', 'raft', '--id', 'n1', '--peers', peers])).toBe(NO_SECRET_MESSAGE);
    expect(parse(['--topology', 'raft', '--id', 'n1', '--peers', peers, '--insecure']).secret).toBeNull();
  });

  it('names the bad flag in one line', () => {
    const base = ['--topology', 'raft', '--id', 'n1', '--peers', peers, '--secret', 'abcdefgh12'];
    expect(problem([...base, '--port', 'eighty'])).toMatch(/--port eighty: expected an integer/);
    expect(problem([...base, '--bogus', '1'])).toMatch(/unknown flag --bogus/);
    expect(problem([...base, '--heartbeat-ms', '0'])).toMatch(/--heartbeat-ms 0/);
    expect(problem([...base, '--heartbeat-ms', '900'])).toBe('--heartbeat-ms too slow');
    expect(problem([...base, '--resolve', 'max'])).toMatch(/--resolve max: expected one of merge, lww/);
    expect(problem([...base, '--fsync', 'maybe'])).toMatch(/--fsync maybe: expected true or false/);
    expect(problem(['--topology', 'raft', '--id', 'n9', '--peers', peers, '--secret', 'abcdefgh12'])).toMatch(/does not list this node's id n9/);
    expect(problem(['--topology', 'raft', '--id', 'n1', '--peers', 'n1=localhost', '--secret', 'abcdefgh12'])).toMatch(/--peers: .*id=host:port/);
    expect(problem(['--topology', 'raft', '--id', 'n1', '--peers', `${peers},n1=127.0.0.1:9`, '--secret', 'abcdefgh12'])).toMatch(/listed twice/);
    expect(problem(['--topology', 'raft', '--id', 'n1', '--peers', peers, '--secret', 'short'])).toMatch(/--secret is too short/);
    expect(problem(['--topology', 'paxos'])).toMatch(/--topology paxos: expected one of raft, leaderless, crdt/);
    expect(problem(['--topology', 'raft', '--peers', peers, '--secret', 'abcdefgh12'])).toMatch(/--id is required/);
  });
});
