/**
 * `@raftwire/raft/etcd`: a raft-only member of an etcd 3.4 cluster (it votes and replicates,
 * never leads). Pair it with core's Transport using `wire: 'etcd-3.4'`; on Node, keep its
 * snapshots with `FileEtcdSnapshotStore` from `@raftwire/raft/node`. See docs/etcd.md.
 */
export { EtcdMember, type EtcdMemberEvents, type EtcdMemberOptions, type EtcdMemberStatus } from './etcd-member.js';
export type { EtcdMemberInfo, EtcdMemberTransport, KeptEtcdSnapshot } from './etcd-membership.js';
export { type EtcdSnapshotStore, MemoryEtcdSnapshotStore } from './snapshot-store.js';
