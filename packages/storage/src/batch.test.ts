import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { unpackBatch } from './batch.js';

const packr = new Packr({ useRecords: false, mapsAsObjects: true });

describe('unpackBatch', () => {
  it('reads a batch record back as its appends, in order', () => {
    const appends = [{ t: 'put', n: 1 }, [1, 2], 'x', { t: 'own' }];
    expect(unpackBatch(packr, packr.pack(appends.map((a) => packr.pack(a))))).toEqual(appends);
  });

  it('reads a record of one append (the format before batching) as a list of one', () => {
    expect(unpackBatch(packr, packr.pack({ t: 'put', n: 1 }))).toEqual([{ t: 'put', n: 1 }]);
    expect(unpackBatch(packr, packr.pack([1, 2]))).toEqual([[1, 2]]);
  });
});
