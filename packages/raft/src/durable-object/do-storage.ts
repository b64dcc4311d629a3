import { BatchedStorage, type StorageBatch } from '../batched-storage.js';

/** The part of a Durable Object's `state.storage` this storage uses (workerd's `DurableObjectStorage` fits). */
export interface DurableObjectStorageLike {
  get(key: string): Promise<unknown>;
  list(options: { prefix: string; start?: string; end?: string }): Promise<Map<string, unknown>>;
  transaction<T>(closure: (txn: DurableObjectTransactionLike) => Promise<T>): Promise<T>;
}

export interface DurableObjectTransactionLike {
  put(entries: Record<string, unknown>): Promise<void>;
  delete(keys: string[]): Promise<number>;
  list(options: { prefix: string; start?: string; end?: string }): Promise<Map<string, unknown>>;
}

export interface DurableObjectRaftStorageOptions {
  /** Key prefix, so one object can hold other data too (default `raft/`). */
  prefix?: string;
}

/** Puts and deletes per call: the platform takes at most 128 keys at once. */
const MAX_KEYS = 128;
/** Entry keys sort by index: zero-padded to the digits of Number.MAX_SAFE_INTEGER. */
const INDEX_DIGITS = 16;

/**
 * Raft log storage in a Durable Object's storage: a `MemoryStorage` for
 * synchronous reads whose {@link sync} writes every change in one storage
 * transaction (atomic: all of it or none) and resolves once the platform has
 * confirmed the write. Keys: `<prefix>hs` (hard state), `<prefix>snap`,
 * `<prefix>e/<index, 16 digits>` for the log. Values are structured-cloned
 * (bigint IDs and `Uint8Array` data survive as they are).
 *
 * A Durable Object has one live instance at a time, so there is no second
 * writer to fence (unlike a browser tab).
 */
export class DurableObjectRaftStorage extends BatchedStorage {
  protected readonly label: string;

  private constructor(
    private readonly storage: DurableObjectStorageLike,
    private readonly prefix: string,
  ) {
    super();
    this.label = `Durable Object storage ${prefix}`;
  }

  /** Loads the member's storage (empty when new). */
  static async open(storage: DurableObjectStorageLike, options: DurableObjectRaftStorageOptions = {}): Promise<DurableObjectRaftStorage> {
    const s = new DurableObjectRaftStorage(storage, options.prefix ?? 'raft/');
    const [hs, snap, log] = await Promise.all([
      storage.get(s.key('hs')),
      storage.get(s.key('snap')),
      storage.list({ prefix: s.key('e/') }),
    ]);
    const records: [unknown, unknown][] = [];
    for (const [k, v] of log) records.push([Number(k.slice(s.key('e/').length)), v]);
    s.load(hs, snap, records);
    return s;
  }

  private key(name: string): string {
    return `${this.prefix}${name}`;
  }

  private entryKey(index: number): string {
    return this.key(`e/${String(index).padStart(INDEX_DIGITS, '0')}`);
  }

  protected async write(batch: StorageBatch): Promise<void> {
    await this.storage.transaction(async (txn) => {
      const drop: string[] = [];
      if (batch.rewriteFrom !== undefined) {
        const stale = await txn.list({ prefix: this.key('e/'), start: this.entryKey(batch.rewriteFrom) });
        drop.push(...stale.keys());
      }
      if (batch.trimBelow > 1) {
        const old = await txn.list({ prefix: this.key('e/'), end: this.entryKey(batch.trimBelow) });
        drop.push(...old.keys());
      }
      for (let i = 0; i < drop.length; i += MAX_KEYS) await txn.delete(drop.slice(i, i + MAX_KEYS));
      const puts: [string, unknown][] = batch.entries.map((e) => [this.entryKey(e.index), e.record]);
      if (batch.snapshot) puts.push([this.key('snap'), batch.snapshot]);
      if (batch.hardState) puts.push([this.key('hs'), batch.hardState]);
      for (let i = 0; i < puts.length; i += MAX_KEYS) await txn.put(Object.fromEntries(puts.slice(i, i + MAX_KEYS)));
    });
  }
}
