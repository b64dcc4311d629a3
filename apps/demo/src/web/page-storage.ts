import { MemoryStorage, type WritableStorage } from '@raftwire/raft';

/**
 * Where the page's members keep their Raft logs: raft's {@link WritableStorage}
 * per member, so any implementation of it plugs in.
 */
export interface MemberStorageProvider {
  /** Survives a reload: the page may then resume its cluster, its members recovering their logs. */
  readonly durable: boolean;
  /** What it is, for the page to say (`in memory`, `in IndexedDB`). */
  readonly where: string;
  /** Opens (or creates, empty) member `member`'s storage in cluster `cluster`. */
  open(cluster: string, member: string): Promise<WritableStorage>;
  /** Deletes every member's storage of `cluster` (it is over: a new cluster starts empty). */
  discard(cluster: string): Promise<void>;
}

/** Logs in memory: a reload loses them, so every page load starts a new cluster. */
export const memoryStorageProvider: MemberStorageProvider = {
  durable: false,
  where: 'in memory',
  open: async () => new MemoryStorage(),
  discard: async () => {},
};
