/** Every raft endpoint lives under this prefix (docs/design.md §3). */
export const RAFT_PREFIX = '/raft';
/** The snapshot endpoint: its body is streamed and bounded by the handler, not the adapter. */
export const RAFT_SNAPSHOT_PATH = '/raft/snapshot';

/** The path part of a request target (`/raft?x=1` → `/raft`). */
export function pathOf(target: string): string {
  const q = target.search(/[?#]/);
  return q === -1 ? target : target.slice(0, q);
}

/** True for `/raft` and anything under `/raft/`. */
export function isRaftPath(path: string): boolean {
  return path === RAFT_PREFIX || path.startsWith(`${RAFT_PREFIX}/`);
}
