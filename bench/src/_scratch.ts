import { TestCluster, waitFor } from '../../packages/node/src/testing.js';
const c = await TestCluster.start({ topology: 'raft', nodes: 3 });
try {
  const leader = await waitFor(async () => { for (const n of c.nodes) { const s = await c.status(n.id); if (s?.role === 'leader') return n.id; } return null; }, { what: 'leader' });
  console.log('leader', leader, await c.status(leader));
  console.log(await c.incr(leader, { idempotencyKey: 'a1' }));
  console.log(await c.incr('n2', { idempotencyKey: 'a1' }));
  console.log(await c.count('n3'));
  console.log(await c.count('n3', { consistency: 'local' }));
  const m = await c.request(leader, 'GET', '/metrics');
  console.log(String(m.body).split('\n').filter(l => !l.startsWith('#') && !l.startsWith('nodejs') && !l.startsWith('process')).join('\n'));
  await c.partition([leader]);
  console.log(await c.incr(leader, { timeoutMs: 8000 }));
  const others = c.nodes.map(n => n.id).filter(x => x !== leader);
  console.log(await c.incr(others[0]!, { timeoutMs: 8000 }));
  console.log(await c.count(leader, {}, 8000));
} finally { await c.stop(); }
