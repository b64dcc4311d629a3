export * from './checker/kv-check.js';
export * from './checker/search.js';
export * from './history.js';
export * from './proxy/fault-proxy.js';
export * from './proxy/link-faults.js';
export * from './proxy/socket-owners.js';
export * from './schedule.js';
export * from './run.js';
