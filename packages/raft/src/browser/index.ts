/**
 * `@raftwire/raft/browser`: raft storage for browsers. {@link IndexedDbStorage}
 * keeps a member's log, hard state and snapshot in IndexedDB behind raft's
 * `WritableStorage` seam, so a page member survives a reload (and a second
 * tab cannot write over the first one's log).
 */
export { IndexedDbStorage, type IndexedDbStorageOptions } from './indexeddb-storage.js';
