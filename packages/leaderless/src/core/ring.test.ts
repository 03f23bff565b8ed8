import { describe, expect, it } from 'vitest';
import { Ring } from './ring.js';

describe('Ring', () => {
  const nodes = ['n1', 'n2', 'n3', 'n4', 'n5'];
  const ring = new Ring(nodes, 64);

  it('gives every key a preference list of N distinct nodes (Dynamo §4.3)', () => {
    for (let i = 0; i < 200; i++) {
      const list = ring.preferenceList(`key${i}`, 3);
      expect(list).toHaveLength(3);
      expect(new Set(list).size).toBe(3);
    }
  });

  it('walks every node once, the preference list first', () => {
    const walk = ring.walk('counter');
    expect([...walk].sort()).toEqual(nodes);
    expect(walk.slice(0, 3)).toEqual(ring.preferenceList('counter', 3));
  });

  it('is the same on every member whatever the order nodes are listed in', () => {
    const other = new Ring([...nodes].reverse(), 64);
    for (let i = 0; i < 50; i++) expect(other.walk(`k${i}`)).toEqual(ring.walk(`k${i}`));
  });

  it('spreads keys: with more nodes than N, each node holds only part of them', () => {
    const held = new Map<string, number>(nodes.map((n) => [n, 0]));
    const keys = 5000;
    for (let i = 0; i < keys; i++) for (const n of ring.preferenceList(`key-${i}`, 3)) held.set(n, (held.get(n) ?? 0) + 1);
    for (const count of held.values()) {
      // 3/5 of the keys on average; virtual nodes keep every node within ±25% of it.
      expect(count).toBeGreaterThan(keys * 0.6 * 0.75);
      expect(count).toBeLessThan(keys * 0.6 * 1.25);
    }
  });

  it('moves few keys when a node joins (consistent hashing)', () => {
    const bigger = new Ring([...nodes, 'n6'], 64);
    let moved = 0;
    for (let i = 0; i < 2000; i++) if (bigger.walk(`key-${i}`)[0] !== ring.walk(`key-${i}`)[0]) moved++;
    expect(moved / 2000).toBeLessThan(0.3); // about 1/6 expected
  });
});
