/** Node-only storage: a durable {@link FileStorage} (WAL + snapshot files). Its file formats are internal. */
export { FileStorage, type FileStorageOptions, type RecoveryInfo } from './file-storage.js';
