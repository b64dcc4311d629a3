/**
 * Whoever reaches the peer port can make the protocol handler log: a stream dial from an
 * unknown sender, a garbage body, another cluster's ID. Each kind of line comes at most once
 * per interval, the next one saying how many were suppressed, so 10 000 bad requests cost a
 * few lines of log, not megabytes.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { formatId } from '@raftwire/core';
import { ManualClock } from '@raftwire/core/testing';
import { LogRateLimiter } from '../src/log-rate-limiter.js';
import { type Cluster, handlerRequest, headersFrom, makeCluster } from './fixtures.js';

let c: Cluster | undefined;
afterEach(async () => {
  await c?.stop();
  c = undefined;
});

const INTERVAL = 200;

describe('protocol handler log under a flood of bad requests', () => {
  it('logs each kind of refusal at most once per interval, with the count it suppressed', async () => {
    c = makeCluster(2, { connect: false, common: { dropLogIntervalMs: INTERVAL } });
    const h = c.m(1).transport.handler;
    const logger = c.m(1).logger;
    const N = 10_000;
    const start = Date.now();
    // N bad requests, then one more of each kind after an interval: the lines those print carry
    // the counts suppressed since (a fast loop can finish inside one interval, leaving them all
    // pending).
    for (let i = 0; i < N + 3; i++) {
      if (i === N) await new Promise((r) => setTimeout(r, INTERVAL + 50));
      const sender = BigInt(1000 + i);
      const kind = i % 3;
      if (kind === 0) {
        // a stream dial from a member nobody knows
        await h(handlerRequest('GET', `/raft/stream/message/${formatId(sender)}`, headersFrom(sender, { 'x-raft-to': '2' })));
      } else if (kind === 1) {
        await h(handlerRequest('POST', '/raft', headersFrom(sender), new TextEncoder().encode('garbage')));
      } else {
        // another cluster's ID, a different one every time (it is part of the line's text)
        await h(handlerRequest('POST', '/raft', headersFrom(sender, { 'x-etcd-cluster-id': formatId(sender) })));
      }
    }
    const elapsed = Date.now() - start;
    const warns = logger.records.filter((r) => r.level === 'warn');
    const intervals = Math.floor(elapsed / INTERVAL) + 1;
    // Three kinds of line (the cluster-ID line names the remote's ID in parentheses, which is
    // not part of its key): at most one of each per interval.
    expect(warns.length).toBeLessThanOrEqual(3 * intervals);
    const suppressed = warns.reduce((n, r) => n + Number(r.fields['suppressed-count'] ?? 0), 0);
    // Every refusal is either a line or counted in a later line (the last interval's may be pending).
    expect(warns.length + suppressed).toBeGreaterThan(N / 2);
    for (const msg of ['failed to find remote peer in cluster', 'failed to unmarshal Raft message', 'request cluster ID mismatch']) {
      const lines = warns.filter((r) => r.msg.startsWith(msg));
      expect(lines.length, msg).toBeGreaterThanOrEqual(1);
      expect(lines.length, msg).toBeLessThanOrEqual(intervals);
    }
  }, 60_000);

  it('the limiter stays bounded when every line has a key of its own', async () => {
    const clock = new ManualClock();
    const limiter = new LogRateLimiter(clock, 1000, 10);
    let let_through = 0;
    for (let round = 0; round < 5; round++) {
      for (let i = 0; i < 2000; i++) if (limiter.take(`key ${round}-${i}`) >= 0) let_through++;
      await clock.advance(1000);
    }
    // 10 tracked keys the first time, then the shared overflow budget: one line per interval.
    expect(let_through).toBeLessThanOrEqual(10 + 5);
  });
});
