export * from './file-storage.js';
export * from './snapshot-store.js';
export * from './wal-record.js';
