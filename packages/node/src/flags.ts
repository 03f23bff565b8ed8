/**
 * Command-line flags and their environment twins (contract: "Each flag has an environment twin
 * for containers"). Parsing is pure: it returns the options or one line saying what is wrong,
 * and the caller prints that line and exits 2 before anything starts.
 */
import { parseArgs } from 'node:util';
import { isNodeId, parsePeers, type KnobSpec, type KnobValues, type PeerAddress, type TopologyModule } from '@playground/core';

export const TOPOLOGY_NAMES = ['raft', 'leaderless', 'crdt'] as const;
export type TopologyName = (typeof TOPOLOGY_NAMES)[number];

export class UsageError extends Error {
  override name = 'UsageError';
}

/** A flag as the user typed it, or its environment twin. */
export interface FlagSpec {
  readonly name: string;
  readonly type: 'string' | 'boolean';
  readonly help: string;
}

/** `election-min-ms` → `ELECTION_MIN_MS`. */
export function envName(flag: string): string {
  return flag.replace(/-/g, '_').toUpperCase();
}

/**
 * Reads flags, then fills the ones not given from the environment (`envOf` maps a flag to its
 * twin). Unknown flags and stray positionals are usage errors.
 */
export function readFlags(
  argv: readonly string[],
  specs: readonly FlagSpec[],
  env: NodeJS.ProcessEnv,
  envOf: (flag: string) => string = envName,
): Map<string, string | boolean> {
  // Booleans are parsed as strings so that `--fsync false`, `--fsync=false`, `--no-fsync` and a
  // bare `--fsync` all work, as users expect of a knob.
  const options: Record<string, { type: 'string' }> = {};
  for (const spec of specs) options[spec.name] = { type: 'string' };
  const booleans = new Set(specs.filter((s) => s.type === 'boolean').map((s) => s.name));
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: normalizeBooleans(argv, booleans), options, strict: true, allowPositionals: false });
  } catch (e) {
    throw new UsageError(cleanParseError((e as Error).message));
  }
  const values = new Map<string, string | boolean>();
  for (const spec of specs) {
    const given = parsed.values[spec.name];
    if (given !== undefined) {
      if (spec.type === 'boolean') {
        const b = parseBool(String(given));
        if (b === undefined) throw new UsageError(`--${spec.name} ${String(given)}: expected true or false`);
        values.set(spec.name, b);
      } else {
        values.set(spec.name, given as string);
      }
      continue;
    }
    const fromEnv = env[envOf(spec.name)];
    if (fromEnv === undefined || fromEnv === '') continue;
    if (spec.type === 'boolean') {
      const b = parseBool(fromEnv);
      if (b === undefined) throw new UsageError(`${envOf(spec.name)}=${fromEnv}: expected true or false`);
      values.set(spec.name, b);
    } else {
      values.set(spec.name, fromEnv);
    }
  }
  return values;
}

function normalizeBooleans(argv: readonly string[], booleans: ReadonlySet<string>): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const name = arg.startsWith('--') && !arg.includes('=') ? arg.slice(2) : null;
    if (name !== null && booleans.has(name)) {
      const next = argv[i + 1];
      if (next !== undefined && !next.startsWith('--')) {
        out.push(`--${name}=${next}`);
        i++;
      } else {
        out.push(`--${name}=true`);
      }
    } else if (name !== null && name.startsWith('no-') && booleans.has(name.slice(3))) {
      out.push(`--${name.slice(3)}=false`);
    } else {
      out.push(arg);
    }
  }
  return out;
}

function cleanParseError(message: string): string {
  // node:util's messages are multi-line and mention internals; keep the first sentence.
  const first = message.split('\n')[0] ?? message;
  const unknown = /Unknown option '([^']+)'/.exec(first);
  if (unknown) return `unknown flag ${unknown[1]} (see --help)`;
  const missing = /Option '([^']+)' argument missing/.exec(first);
  if (missing) return `flag ${missing[1]?.split(' ')[0] ?? ''} needs a value`;
  const positional = /Unexpected argument '([^']+)'/.exec(first);
  if (positional) return `unexpected argument ${JSON.stringify(positional[1])} (flags look like --name value; see --help)`;
  return first;
}

export function parseBool(text: string): boolean | undefined {
  const t = text.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(t)) return true;
  if (['0', 'false', 'no', 'off'].includes(t)) return false;
  return undefined;
}

export function parseIntStrict(flag: string, text: string, min: number, max: number): number {
  if (!/^-?\d+$/.test(text.trim())) throw new UsageError(`--${flag} ${text}: expected an integer in ${min}..${max}`);
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(`--${flag} ${text}: expected an integer in ${min}..${max}`);
  }
  return n;
}

export function knobFlagSpecs(knobs: readonly KnobSpec[]): FlagSpec[] {
  return knobs.map((k) => ({ name: k.name, type: k.type === 'bool' ? 'boolean' : 'string', help: k.help }));
}

/** Validates a topology's knobs; `--no-read-repair` style negation is `--read-repair false`. */
export function parseKnobs(knobs: readonly KnobSpec[], values: Map<string, string | boolean>): KnobValues {
  const out: Record<string, number | boolean | string> = {};
  for (const knob of knobs) {
    const raw = values.get(knob.name);
    if (raw === undefined) {
      out[knob.name] = knob.default;
      continue;
    }
    switch (knob.type) {
      case 'int':
        out[knob.name] = parseIntStrict(
          knob.name,
          String(raw),
          knob.min ?? Number.MIN_SAFE_INTEGER,
          knob.max ?? Number.MAX_SAFE_INTEGER,
        );
        break;
      case 'bool':
        if (typeof raw === 'boolean') out[knob.name] = raw;
        else {
          const b = parseBool(raw);
          if (b === undefined) throw new UsageError(`--${knob.name} ${raw}: expected true or false`);
          out[knob.name] = b;
        }
        break;
      case 'enum': {
        const allowed = knob.values ?? [];
        if (!allowed.includes(String(raw))) {
          throw new UsageError(`--${knob.name} ${String(raw)}: expected one of ${allowed.join(', ')}`);
        }
        out[knob.name] = String(raw);
        break;
      }
      case 'string':
        out[knob.name] = String(raw);
        break;
    }
  }
  return out;
}

export function requireTopology(value: string | boolean | undefined, fallback?: TopologyName): TopologyName {
  if (value === undefined) {
    if (fallback !== undefined) return fallback;
    throw new UsageError(`--topology is required: one of ${TOPOLOGY_NAMES.join(', ')}`);
  }
  if (!(TOPOLOGY_NAMES as readonly string[]).includes(String(value))) {
    throw new UsageError(`--topology ${String(value)}: expected one of ${TOPOLOGY_NAMES.join(', ')}`);
  }
  return value as TopologyName;
}

export interface NodeOptions {
  readonly topology: TopologyName;
  readonly id: string;
  readonly host: string;
  readonly port: number;
  readonly peers: readonly PeerAddress[];
  readonly dataDir: string;
  readonly secret: string | null;
  readonly rpcTimeoutMs: number;
  readonly knobs: KnobValues;
}

export const NODE_FLAGS: readonly FlagSpec[] = [
  { name: 'topology', type: 'string', help: 'raft | leaderless | crdt' },
  { name: 'id', type: 'string', help: 'this node\'s id; must appear in --peers' },
  { name: 'port', type: 'string', help: 'port to listen on (default: this node\'s port in --peers)' },
  { name: 'host', type: 'string', help: 'address to listen on (default 127.0.0.1; 0.0.0.0 in containers)' },
  { name: 'peers', type: 'string', help: 'every member, this node included: n1=127.0.0.1:8001,n2=...' },
  { name: 'data-dir', type: 'string', help: 'where durable state lives (default .data/<id>)' },
  { name: 'secret', type: 'string', help: 'the cluster secret that authenticates peer messages and the admin API' },
  { name: 'insecure', type: 'boolean', help: 'run without a secret (peer messages unauthenticated): throwaway local runs only' },
  { name: 'rpc-timeout-ms', type: 'string', help: 'timeout of every peer RPC attempt (default 1000)' },
  { name: 'help', type: 'boolean', help: 'print this help' },
];

/** The environment twins the contract names; the rest are the flag in upper snake case. */
const NODE_ENV: Readonly<Record<string, string>> = { id: 'NODE_ID', secret: 'CLUSTER_SECRET' };
export const nodeEnvName = (flag: string): string => NODE_ENV[flag] ?? envName(flag);

export const MIN_SECRET_LENGTH = 8;

export const NO_SECRET_MESSAGE =
  'no cluster secret: pass --secret <secret> or set CLUSTER_SECRET (npm run cluster generates one and prints it), or pass --insecure for a throwaway local run';

/** Everything `npm run node` needs, validated; throws UsageError with one line. */
export function parseNodeOptions(values: Map<string, string | boolean>, module: TopologyModule): NodeOptions {
  const topology = requireTopology(values.get('topology'));
  const id = values.get('id');
  if (typeof id !== 'string') throw new UsageError('--id is required (this node\'s id, e.g. n1)');
  if (!isNodeId(id)) throw new UsageError(`--id ${id}: use 1-32 letters, digits, _ or -`);
  const peerSpec = values.get('peers');
  if (typeof peerSpec !== 'string') {
    throw new UsageError('--peers is required: every member, itself included, e.g. n1=127.0.0.1:8001,n2=127.0.0.1:8002,n3=127.0.0.1:8003');
  }
  const peers = parsePeers(peerSpec);
  if (typeof peers === 'string') throw new UsageError(`--peers: ${peers}`);
  const self = peers.find((p) => p.id === id);
  if (!self) throw new UsageError(`--peers does not list this node's id ${id} (it lists ${peers.map((p) => p.id).join(', ')})`);
  const portText = values.get('port');
  const port = portText === undefined ? self.port : parseIntStrict('port', String(portText), 0, 65535);
  const hostValue = values.get('host');
  const host = typeof hostValue === 'string' ? hostValue : '127.0.0.1';
  const dataDirValue = values.get('data-dir');
  const dataDir = typeof dataDirValue === 'string' ? dataDirValue : `.data/${id}`;
  const insecure = values.get('insecure') === true;
  const secretValue = values.get('secret');
  let secret: string | null = null;
  if (typeof secretValue === 'string') {
    if (secretValue.length < MIN_SECRET_LENGTH) {
      throw new UsageError(`--secret is too short: use at least ${MIN_SECRET_LENGTH} characters`);
    }
    secret = secretValue;
  } else if (!insecure) {
    throw new UsageError(NO_SECRET_MESSAGE);
  }
  const timeoutText = values.get('rpc-timeout-ms');
  const rpcTimeoutMs = timeoutText === undefined ? 1000 : parseIntStrict('rpc-timeout-ms', String(timeoutText), 10, 60_000);
  const knobs = parseKnobs(module.knobs, values);
  const problem = module.checkKnobs?.(knobs, peers.length);
  if (problem) throw new UsageError(problem);
  return { topology, id, host, port, peers, dataDir, secret, rpcTimeoutMs, knobs };
}

export function helpText(title: string, usage: string, specs: readonly FlagSpec[], envOf: (f: string) => string): string {
  const lines = [title, '', `usage: ${usage}`, ''];
  const width = Math.max(...specs.map((s) => s.name.length)) + 4;
  for (const s of specs) {
    const twin = s.name === 'help' ? '' : ` [env ${envOf(s.name)}]`;
    lines.push(`  --${s.name.padEnd(width)}${s.help}${twin}`);
  }
  return lines.join('\n');
}
