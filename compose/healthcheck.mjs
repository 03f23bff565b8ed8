// Docker health check for one node: `node compose/healthcheck.mjs` inside its container.
//
// Prints one line (docker keeps it: `docker inspect --format '{{json .State.Health}}' playground-n1`)
// and exits 0 (healthy) or 1 (unhealthy). It asks this node's GET /status and every peer's, so a
// peer that never comes up, or a peer list that names the wrong hosts, shows here by name.
// Healthy means "can do what this topology promises right now":
//   raft        a leader is known (a node cut off from the majority cannot commit: unhealthy)
//   leaderless  a majority of replicas answer (the default W=2/R=2 quorums can be met)
//   crdt        this node answers (it accepts increments alone, by design); unreachable peers
//               are still named in the line
// Plain Node, no dependencies: the image needs no curl.
const self = process.env.NODE_ID ?? '?';
const topology = process.env.TOPOLOGY ?? '?';
const timeoutMs = 1500;

async function status(hostPort) {
  try {
    const res = await fetch(`http://${hostPort}/status`, { signal: AbortSignal.timeout(timeoutMs) });
    if (!res.ok) return { error: `HTTP ${res.status}` };
    return { body: await res.json() };
  } catch (e) {
    const cause = e?.cause?.code ?? e?.name ?? 'error';
    const why = cause === 'ENOTFOUND' || cause === 'EAI_AGAIN' ? 'name does not resolve'
      : cause === 'ECONNREFUSED' ? 'connection refused'
      : cause === 'TimeoutError' ? `no answer within ${timeoutMs} ms`
      : cause === 'EHOSTUNREACH' ? 'host unreachable' : String(cause);
    return { error: why };
  }
}

function peersOf(env) {
  return (env ?? '').split(',').filter(Boolean).map((entry) => {
    const [id, address] = entry.split('=');
    return { id, address };
  });
}

// The node listens on PORT, or else on its own port in PEERS (as the node itself decides).
const ownEntry = peersOf(process.env.PEERS).find((p) => p.id === self);
const port = process.env.PORT || ownEntry?.address?.split(':').pop() || '8001';
const mine = await status(`127.0.0.1:${port}`);
if (!mine.body) {
  console.log(`UNHEALTHY ${self}: its own /status on port ${port} does not answer (${mine.error}); see docker logs`);
  process.exit(1);
}
const others = peersOf(process.env.PEERS).filter((p) => p.id !== self);
const answers = await Promise.all(others.map(async (p) => ({ ...p, ...(await status(p.address)) })));
const down = answers.filter((a) => !a.body).map((a) => `${a.id} (${a.address}): ${a.error}`);
const reachable = 1 + answers.length - down.length;
const members = 1 + answers.length;
const s = mine.body;

let healthy = true;
let summary = `${topology}`;
if (topology === 'raft') {
  summary += ` role=${s.role} term=${s.term} leader=${s.leader ?? 'none'} commitIndex=${s.commitIndex}`;
  if (!s.leader) {
    healthy = false;
    summary += ' (no leader known: needs a majority of nodes that can reach each other)';
  }
} else if (topology === 'leaderless') {
  summary += ` n=${s.n} w=${s.w} r=${s.r}`;
  if (reachable <= members / 2) {
    healthy = false;
    summary += ` (only ${reachable} of ${members} replicas answer: majority quorums cannot be met)`;
  }
}
const line = `${healthy ? 'HEALTHY' : 'UNHEALTHY'} ${self}: ${summary}; peers ${down.length === 0 ? 'all answer' : `not answering: ${down.join('; ')}`}`;
console.log(line);
process.exit(healthy ? 0 : 1);
