/**
 * Measuring systems in turns. This VM's speed drifts from one minute to the next (etcd alone has
 * measured 5,400 and 8,200 puts/s an hour apart), so two systems measured one after the other
 * compare the minutes as much as the systems. Instead each is measured in rounds, taking turns
 * (A B, B A, A B, ...), and the median round of each is reported.
 */

/**
 * Runs `measure` once per item per round, the order reversed every other round; returns, per
 * item, its measurements in round order. Stops before a round once `signal` is aborted.
 */
export async function inTurns<T, R>(
  items: readonly T[],
  rounds: number,
  measure: (item: T, round: number) => Promise<R>,
  signal?: AbortSignal,
): Promise<R[][]> {
  const out: R[][] = items.map(() => []);
  for (let round = 0; round < rounds && signal?.aborted !== true; round++) {
    for (let k = 0; k < items.length; k++) {
      const i = round % 2 === 0 ? k : items.length - 1 - k;
      (out[i] as R[]).push(await measure(items[i] as T, round));
    }
  }
  return out;
}

/** The measurement with the median `rate` (the lower of the two middle ones for an even count). */
export function medianBy<R>(runs: readonly R[], rate: (r: R) => number): R {
  const sorted = [...runs].sort((a, b) => rate(a) - rate(b));
  return sorted[(sorted.length - 1) >> 1] as R;
}
