import { MemoryStorage, type WritableStorage } from '@raftwire/raft';
import { IndexedDbStorage } from '@raftwire/raft/browser';

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

const DB_PREFIX = 'raftwire-demo-';

function dbName(cluster: string, member: string): string {
  return `${DB_PREFIX}${cluster}-${member}`;
}

/**
 * Logs in IndexedDB, one database per member (`raftwire-demo-<cluster>-<member>`):
 * a reloaded page resumes its cluster with its members' logs. `owner` fences
 * the databases: a copy of this page in another tab that opens them makes this
 * page's next write fail instead of both writing one log.
 */
export function indexedDbStorageProvider(owner: string = crypto.randomUUID()): MemberStorageProvider & {
  /** Deletes the databases of clusters no tab holds (`held`: cluster IDs in use). */
  sweep(held: ReadonlySet<string>): Promise<void>;
} {
  const open = new Map<string, IndexedDbStorage>();
  const drop = async (names: string[]): Promise<void> => {
    for (const name of names) {
      await open.get(name)?.close();
      open.delete(name);
      await IndexedDbStorage.delete(name);
    }
  };
  const names = async (): Promise<string[]> =>
    (await indexedDB.databases()).map((d) => d.name ?? '').filter((n) => n.startsWith(DB_PREFIX));
  return {
    durable: true,
    where: 'in IndexedDB',
    async open(cluster, member) {
      const name = dbName(cluster, member);
      const s = await IndexedDbStorage.open({ name, owner });
      open.set(name, s);
      return s;
    },
    async discard(cluster) {
      await drop((await names()).filter((n) => n.startsWith(`${DB_PREFIX}${cluster}-`)));
    },
    async sweep(held) {
      await drop((await names()).filter((n) => !held.has(n.slice(DB_PREFIX.length).split('-')[0] ?? '')));
    },
  };
}
