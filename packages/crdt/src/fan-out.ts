import type { NodeId } from '@playground/core';

/**
 * Asks every peer at once; resolves with how many said yes, as soon as `enough` did, or every
 * peer answered, or the deadline passed (a peer still silent then counts as no). An `ask` that
 * throws counts as no and is reported to `onError`.
 */
export function fanOut(
  peers: readonly NodeId[],
  enough: number,
  deadlineMs: number,
  ask: (peer: NodeId) => Promise<boolean>,
  onError: (peer: NodeId, error: unknown) => void,
): Promise<number> {
  if (peers.length === 0 || enough <= 0) return Promise.resolve(0);
  return new Promise((resolve) => {
    let yes = 0;
    let answered = 0;
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve(yes);
    };
    const timer = setTimeout(finish, deadlineMs);
    for (const peer of peers) {
      ask(peer)
        .catch((e: unknown) => {
          onError(peer, e);
          return false;
        })
        .then((ok) => {
          answered++;
          if (ok) yes++;
          if (yes >= enough || answered === peers.length) finish();
        });
    }
  });
}
