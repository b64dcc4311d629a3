/** Node-only storage: a durable {@link FileStorage} (WAL + snapshot files). Its file formats are internal. */
export { FileStorage, type FileStorageOptions, type RecoveryInfo } from './file-storage.js';
// WAL inspection, for repair and fault-injection tools: the record layout and a scanner.
export { scanWal, type WalScan, WAL_HEADER_BYTES } from './wal-record.js';
