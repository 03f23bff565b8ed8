/** Unique to this bench process, so that keys never collide across runs on one cluster. */
export const runTag = `${process.pid.toString(36)}${Date.now().toString(36)}`;

/** A fresh key per call: `${prefix}-${runTag}-1`, `-2`, ... (Idempotency-Keys, etcd keys). */
export function keySequence(prefix: string): () => string {
  let n = 0;
  return () => `${prefix}-${runTag}-${++n}`;
}
