// The test kit without a test framework: works under vitest, jest, node:test and in benchmarks.
// The compliance suite (which needs vitest) is its own entry, `@raftwire/core/compliance`.
export * from './memory-link.js';
export * from './helpers.js';
export { ManualClock, settle } from './manual-clock.js';
export * from './compliance-member.js';
export * from './compliance-bridge.js';
export { MemoryLogger } from '../logger.js';
export { MemoryMetrics } from '../metrics.js';
export { AbortListenerTracker } from './abort-listener-tracker.js';
