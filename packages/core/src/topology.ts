/**
 * The seam between the node executable (HTTP, flags, processes) and a topology's driver.
 * Every topology implements TopologyModule; packages/node mounts it behind the contract's
 * client API, and the transport carries its peer messages.
 */
import type { ErrorCode } from './errors.js';
import type { NodeId, PeerAddress } from './ids.js';
import type { Result } from './result.js';

/** One knob of a topology: `--gossip-ms 100`, env twin `GOSSIP_MS`. */
export interface KnobSpec {
  /** Flag name without dashes, kebab-case: `election-min-ms`. */
  readonly name: string;
  readonly type: 'int' | 'bool' | 'enum' | 'string';
  readonly default: number | boolean | string;
  readonly min?: number;
  readonly max?: number;
  readonly values?: readonly string[];
  readonly help: string;
}

export type KnobValues = Readonly<Record<string, number | boolean | string>>;

/** A client request for POST /incr, after the contract's common validation. */
export interface IncrRequest {
  readonly key: string;
  readonly delta: number;
  readonly idempotencyKey: string | undefined;
  /** Query/body parameters beyond the common ones (w, r, consistency...), still unvalidated. */
  readonly params: Readonly<Record<string, unknown>>;
}

export interface CountRequest {
  readonly key: string;
  readonly params: Readonly<Record<string, unknown>>;
}

/** What a topology answers; the HTTP layer serializes it as JSON. */
export type ClientReply =
  | { readonly status: 200; readonly body: Record<string, unknown> }
  | {
      readonly status: number;
      readonly error: { readonly code: ErrorCode; readonly message: string };
      /** Seconds, for 503 (contract: 503 carries Retry-After). */
      readonly retryAfterS?: number;
      /** Extra fields beside `error` (for example the leader hint). */
      readonly extra?: Record<string, unknown>;
    };

/** Why a peer RPC did not produce a reply. None of them says the remote did not act. */
export type RpcFailure =
  | { readonly kind: 'timeout'; readonly message: string } // outcome unknown
  | { readonly kind: 'unreachable'; readonly message: string } // refused / reset / injected reject
  | { readonly kind: 'circuit_open'; readonly message: string } // not sent: breaker open
  | { readonly kind: 'overloaded'; readonly message: string } // not sent: in-flight bound reached
  | { readonly kind: 'remote_error'; readonly status: number; readonly message: string }; // the peer answered an error

export interface RpcOptions {
  /** Per attempt. Default: the transport's rpcTimeoutMs. */
  readonly timeoutMs?: number;
  /** Extra attempts with exponential backoff and full jitter (p-retry). Default 0. */
  readonly retries?: number;
}

/** The only way a topology talks to its peers. Never throws for network trouble. */
export interface PeerTransport {
  call<T = unknown>(peer: NodeId, type: string, body: unknown, options?: RpcOptions): Promise<Result<T, RpcFailure>>;
  /** Told when calls to a peer that were failing fast (its breaker open) go through again. */
  onReachable?(listener: (peer: NodeId) => void): void;
}

export interface Logger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

export interface TopologyContext {
  readonly id: NodeId;
  /** Every member, this node included, in the order given on the command line. */
  readonly peers: readonly PeerAddress[];
  readonly dataDir: string;
  readonly knobs: KnobValues;
  readonly transport: PeerTransport;
  /** A prom-client Registry; typed loosely here so that core stays free of dependencies. */
  readonly metrics: unknown;
  readonly log: Logger;
}

export interface TopologyNode {
  /** Recover durable state and start timers. Resolves when the node can serve. */
  start(): Promise<void>;
  incr(request: IncrRequest): Promise<ClientReply>;
  count(request: CountRequest): Promise<ClientReply>;
  /** The topology's own /status fields (the node layer adds id, topology, pid, uptimeMs, peers, faults). */
  status(): Record<string, unknown>;
  /**
   * An authenticated peer message. Its body is untrusted in shape: throw BadRequestError for a
   * malformed one (answered 400, nothing changed). The return value is the reply body.
   */
  handlePeer(from: NodeId, type: string, body: unknown): Promise<unknown>;
  /** Stop timers, flush what is pending to disk, close files. */
  stop(): Promise<void>;
}

export interface TopologyModule {
  readonly name: 'raft' | 'leaderless' | 'crdt';
  readonly knobs: readonly KnobSpec[];
  /**
   * Client parameters this topology understands beyond `key` and `delta` (e.g. `w`, `r`,
   * `consistency`). When given, the node layer refuses any other parameter with a 400 naming it,
   * so that a typo (`detla=5`) is an error rather than a silent default.
   */
  readonly clientParams?: { readonly incr: readonly string[]; readonly count: readonly string[] };
  /**
   * Checks between knobs, and against the cluster's size (e.g. heartbeat well inside the election
   * timeout, N at most the number of members): one line saying what is wrong, or null.
   */
  readonly checkKnobs?: (knobs: KnobValues, members: number) => string | null;
  create(context: TopologyContext): TopologyNode;
}

/** Helpers for building replies. */
export const reply = {
  ok(body: Record<string, unknown>): ClientReply {
    return { status: 200, body };
  },
  badRequest(field: string, message: string): ClientReply {
    return { status: 400, error: { code: 'bad_request', message: `${field}: ${message}` } };
  },
  unavailable(message: string, retryAfterS = 1, extra?: Record<string, unknown>): ClientReply {
    return extra === undefined
      ? { status: 503, error: { code: 'unavailable', message }, retryAfterS }
      : { status: 503, error: { code: 'unavailable', message }, retryAfterS, extra };
  },
  timeout(message: string, extra?: Record<string, unknown>): ClientReply {
    return extra === undefined
      ? { status: 504, error: { code: 'timeout', message } }
      : { status: 504, error: { code: 'timeout', message }, extra };
  },
};
