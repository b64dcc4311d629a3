/** Node-only storage: a durable {@link FileStorage} (WAL + snapshot files) and etcd's snapshots in files. File formats are internal. */
export { FileStorage, type FileStorageOptions, type RecoveryInfo } from './file-storage.js';
export { FileEtcdSnapshotStore } from './etcd-snapshot-files.js';
// WAL inspection, for repair and fault-injection tools: the record layout, a scanner and the repair.
export {
  inspectWalBytes,
  scanWal,
  type WalDamage,
  WalCorruptionError,
  type WalScan,
  WAL_FILE_HEADER_BYTES,
  WAL_HEADER_BYTES,
} from './wal-record.js';
export { repairWal, type WalRepairOptions, type WalRepairReport } from './wal-repair.js';
