/** Comparing dots: identity, causality (from `deps`) and the deterministic tie-break. */
import type { NodeId } from '@playground/core';
import type { Dot, Halves } from './types.js';

export function depOf(dot: Dot, origin: NodeId): number {
  return Object.hasOwn(dot.deps, origin) ? (dot.deps[origin] as number) : 0;
}

/** Neither creator had seen the other's dot when it made its own. */
export function concurrent(a: Dot, b: Dot): boolean {
  return a.origin !== b.origin && depOf(b, a.origin) < a.seq && depOf(a, b.origin) < b.seq;
}

export function dotBefore(a: Dot, b: Dot): boolean {
  return a.origin < b.origin || (a.origin === b.origin && a.seq < b.seq);
}

export function sameDot(a: Dot, b: Dot): boolean {
  if (a.origin !== b.origin || a.seq !== b.seq || a.idem !== b.idem || a.key !== b.key || a.delta !== b.delta) return false;
  const ka = Object.keys(a.deps).filter((k) => depOf(a, k) !== 0);
  const kb = Object.keys(b.deps).filter((k) => depOf(b, k) !== 0);
  return ka.length === kb.length && ka.every((k) => depOf(a, k) === depOf(b, k));
}

export function sameSums(a: ReadonlyMap<string, Halves>, b: ReadonlyMap<string, Halves>): boolean {
  const nonZero = (m: ReadonlyMap<string, Halves>): [string, Halves][] => [...m].filter(([, h]) => h.p !== 0 || h.n !== 0);
  const na = nonZero(a);
  const nb = nonZero(b);
  return na.length === nb.length && na.every(([k, h]) => (b.get(k)?.p ?? 0) === h.p && (b.get(k)?.n ?? 0) === h.n);
}
