export * from './memory-link.js';
export * from './helpers.js';
export { ManualClock, settle } from './manual-clock.js';
export * from './compliance.js';
export { memoryTestNetwork } from './memory-network-factory.js';
export { MemoryLogger } from '../logger.js';
export { MemoryMetrics } from '../metrics.js';
