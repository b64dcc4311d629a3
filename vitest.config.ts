import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const src = (p: string) => fileURLToPath(new URL(p, import.meta.url));

export default defineConfig({
  resolve: {
    alias: [
      { find: /^@raftwire\/core$/, replacement: src('./packages/core/src/index.ts') },
      { find: /^@raftwire\/raft$/, replacement: src('./packages/raft/src/index.ts') },
      { find: /^@raftwire\/raft\/node$/, replacement: src('./packages/raft/src/node/index.ts') },
      { find: /^@raftwire\/raft\/browser$/, replacement: src('./packages/raft/src/browser/index.ts') },
      { find: /^@raftwire\/raft\/durable-object$/, replacement: src('./packages/raft/src/durable-object/index.ts') },
      { find: /^@raftwire\/raft\/etcd$/, replacement: src('./packages/raft/src/etcd/index.ts') },
      { find: /^@raftwire\/core\/etcd$/, replacement: src('./packages/core/src/etcd/index.ts') },
      { find: /^@raftwire\/core\/testing$/, replacement: src('./packages/core/src/testing/index.ts') },
      { find: /^@raftwire\/core\/compliance$/, replacement: src('./packages/core/src/testing/compliance.ts') },
      { find: /^@raftwire\/adapters\/http$/, replacement: src('./packages/adapters/src/http/index.ts') },
      { find: /^@raftwire\/adapters\/http\/node$/, replacement: src('./packages/adapters/src/http/node/index.ts') },
      { find: /^@raftwire\/adapters\/webrtc$/, replacement: src('./packages/adapters/src/webrtc/index.ts') },
      { find: /^@raftwire\/adapters\/webrtc\/node$/, replacement: src('./packages/adapters/src/webrtc/node/index.ts') },
      { find: /^@raftwire\/adapters\/prometheus$/, replacement: src('./packages/adapters/src/prometheus/index.ts') },
      { find: /^@raftwire\/member$/, replacement: src('./packages/member/src/index.ts') },
      { find: /^@raftwire\/member\/http$/, replacement: src('./packages/member/src/http/index.ts') },
      { find: /^@raftwire\/member\/webrtc$/, replacement: src('./packages/member/src/webrtc/index.ts') },
    ],
  },
  test: {
    include: [
      'packages/*/test/**/*.test.ts',
      'apps/*/test/**/*.test.ts',
      'chaos/test/**/*.test.ts',
      'consumer/test/**/*.test.ts',
      'test/**/*.test.ts',
    ],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    reporters: ['default'],
    coverage: {
      provider: 'v8',
      include: ['packages/core/src/**/*.ts'],
      reporter: ['text-summary', 'json-summary'],
      thresholds: { 'packages/core/src/**': { lines: 90 } },
    },
  },
});
