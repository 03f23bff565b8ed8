/**
 * An in-process stand-in for the transport: calls a peer's handlePeer directly (through a
 * msgpack round trip, as the wire would), can cut links, and counts messages and bytes.
 * For driver tests and in-process measurements; real processes use packages/transport.
 */
import { BadRequestError, err, ok, type NodeId, type PeerTransport, type TopologyNode } from '@playground/core';
import { pack, unpack } from 'msgpackr';

export class FakeNet {
  readonly nodes = new Map<NodeId, TopologyNode>();
  /** Links cut, as `from>to` (a cut is checked both ways). */
  readonly cut = new Set<string>();
  calls = 0;
  bytes = 0;

  constructor(private readonly ids: readonly NodeId[]) {}

  transport(from: NodeId): PeerTransport {
    return {
      call: async <T>(peer: NodeId, type: string, body: unknown) => {
        this.calls++;
        const target = this.nodes.get(peer);
        if (!target || this.cut.has(`${from}>${peer}`) || this.cut.has(`${peer}>${from}`)) {
          return err({ kind: 'unreachable' as const, message: 'link cut' });
        }
        const request = pack(body);
        this.bytes += request.length;
        try {
          const answer = pack(await target.handlePeer(from, type, unpack(request)));
          this.bytes += answer.length;
          return ok(unpack(answer) as T);
        } catch (e) {
          return err({ kind: 'remote_error' as const, status: e instanceof BadRequestError ? 400 : 500, message: (e as Error).message });
        }
      },
    };
  }

  /** Cuts `side` off from every other member, both ways. */
  partition(side: readonly NodeId[]): void {
    for (const a of side) for (const b of this.ids) if (!side.includes(b)) this.cut.add(`${a}>${b}`);
  }

  heal(): void {
    this.cut.clear();
  }
}
