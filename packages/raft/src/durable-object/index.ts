/**
 * `@raftwire/raft/durable-object`: raft storage for a member living in a
 * Cloudflare Durable Object (workerd). {@link DurableObjectRaftStorage} keeps
 * the log, hard state and snapshot in the object's transactional storage
 * behind raft's `WritableStorage` seam. No workerd types are imported: the
 * storage is described by the small {@link DurableObjectStorageLike}.
 */
export { DurableObjectRaftStorage, type DurableObjectRaftStorageOptions, type DurableObjectStorageLike } from './do-storage.js';
