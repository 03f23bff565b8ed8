/**
 * Test helper: N servers on ephemeral ports that know each other. The peer addresses are
 * shared mutable objects whose ports are filled in after listen(): PeerClient reads the
 * address at each send, so this avoids guessing free ports.
 */
import { Hono } from 'hono';
import { Registry } from 'prom-client';
import type { Logger, NodeId } from '@playground/core';
import { readClientParams } from './params.js';
import { createNodeServer, type NodeServer, type NodeServerOptions } from './server.js';

export const TEST_SECRET = 'test-secret-0123456789';

export interface Received {
  readonly from: NodeId;
  readonly type: string;
  readonly body: unknown;
}

export interface TestNode {
  readonly id: NodeId;
  readonly server: NodeServer;
  readonly registry: Registry;
  readonly received: Received[];
  port: number;
  url: string;
  handler: (from: NodeId, type: string, body: unknown) => Promise<unknown>;
}

export const quietLog: Logger = { info: () => undefined, warn: () => undefined, error: () => undefined };

export async function startCluster(
  ids: readonly NodeId[],
  extra: Partial<NodeServerOptions> = {},
  listen: readonly NodeId[] = ids,
): Promise<{ nodes: Record<NodeId, TestNode>; start: (id: NodeId) => Promise<void>; close: () => Promise<void> }> {
  const peers = ids.map((id) => ({ id, host: '127.0.0.1', port: 1 }));
  const nodes: Record<NodeId, TestNode> = {};
  for (const id of ids) {
    const registry = new Registry();
    const received: Received[] = [];
    const node: TestNode = {
      id,
      registry,
      received,
      port: 0,
      url: '',
      handler: async (_from, _type, body) => ({ echo: body }),
      server: createNodeServer({
        id,
        host: '127.0.0.1',
        port: 0,
        peers,
        secret: TEST_SECRET,
        registry,
        log: quietLog,
        onPeerMessage: async (from, type, body) => {
          received.push({ from, type, body });
          return node.handler(from, type, body);
        },
        mountClientRoutes: (app: Hono) => {
          app.post('/echo', async (c) => c.json(await readClientParams(c)));
        },
        ...extra,
      }),
    };
    nodes[id] = node;
  }
  for (const id of listen) await listenNode(nodes[id] as TestNode, peers);
  return {
    nodes,
    start: (id) => listenNode(nodes[id] as TestNode, peers),
    close: async () => {
      await Promise.all(Object.values(nodes).map((n) => n.server.close()));
    },
  };
}

async function listenNode(node: TestNode, peers: { id: NodeId; port: number }[]): Promise<void> {
  node.port = await node.server.listen();
  node.url = `http://127.0.0.1:${node.port}`;
  const p = peers.find((x) => x.id === node.id);
  if (p) p.port = node.port;
}

/** Polls `predicate` until it holds or the deadline passes (no fixed sleeps). */
export async function eventually(predicate: () => boolean | Promise<boolean>, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
