import { createEntry } from '@raftwire/core';
import { describe, expect, it } from 'vitest';
import { BatchedStorage, type StorageBatch } from '../src/batched-storage.js';

/** A BatchedStorage that keeps every batch it is asked to write. */
class Recording extends BatchedStorage {
  protected readonly label = 'recording';
  readonly batches: StorageBatch[] = [];
  protected async write(batch: StorageBatch): Promise<void> {
    this.batches.push(batch);
  }
}

describe('BatchedStorage', () => {
  it('writes entry data that own their buffer: a view of a larger buffer (a slab, a received chunk) is copied', async () => {
    // A store that structured-clones its records (IndexedDB, Durable Objects) would otherwise
    // write the view's whole underlying buffer for every entry.
    const slab = new Uint8Array(64 * 1024).fill(7);
    const own = Uint8Array.of(1, 2, 3);
    const s = new Recording();
    s.append([
      createEntry({ index: 1, term: 1, data: slab.subarray(100, 110) }),
      createEntry({ index: 2, term: 1, data: own }),
      createEntry({ index: 3, term: 1, data: slab.subarray(0, slab.length) }),
    ]);
    await s.sync();
    const records = s.batches.flatMap((b) => b.entries.map((e) => e.record.data));
    expect(records.map((d) => [d.byteOffset, d.byteLength, d.buffer.byteLength])).toEqual([
      [0, 10, 10],
      [0, 3, 3],
      [0, 64 * 1024, 64 * 1024],
    ]);
    expect(records[0]).toEqual(new Uint8Array(10).fill(7));
    expect(records[1]).toBe(own);
  });
});
