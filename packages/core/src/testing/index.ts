export * from './memory-link.js';
export * from './helpers.js';
export * from './compliance.js';
export { memoryTestNetwork } from './memory-network-factory.js';
export { MemoryLogger } from '../logger.js';
export { MemoryMetrics } from '../metrics.js';
export { AbortListenerTracker } from './abort-listener-tracker.js';
