import type { ProtocolHandler } from '@raftwire/core';
import { afterEach, describe, expect, it } from 'vitest';
import { Resources, clients, hashBody, json, patternSource, readText } from './helpers.js';

const SIZE = 256 * 1024 * 1024;
const GROWTH_LIMIT = 200 * 1024 * 1024;

/**
 * Samples memory while `fn` runs; returns the peak growth over the start of
 * RSS and of live memory (JS heap + buffers). RSS rarely shrinks, so after an
 * earlier test it may sit high already; live memory shows buffering either way.
 */
async function peakGrowth(fn: () => Promise<void>): Promise<{ rss: number; live: number }> {
  const live = (): number => {
    const m = process.memoryUsage();
    return m.heapUsed + m.external + m.arrayBuffers;
  };
  const base = { rss: process.memoryUsage.rss(), live: live() };
  const peak = { ...base };
  const sample = (): void => {
    peak.rss = Math.max(peak.rss, process.memoryUsage.rss());
    peak.live = Math.max(peak.live, live());
  };
  const timer = setInterval(sample, 10);
  try {
    await fn();
  } finally {
    clearInterval(timer);
  }
  sample();
  return { rss: peak.rss - base.rss, live: peak.live - base.live };
}

/** `/raft/snapshot` hashes the upload; `/raft/stream/big` streams SIZE bytes of the pattern. */
function bulkHandler(download: { digest?: () => string }): ProtocolHandler {
  return async (req) => {
    if (req.path === '/raft/snapshot') return json(200, await hashBody(req.body));
    const src = patternSource(SIZE);
    download.digest = src.digest;
    return { status: 200, headers: {}, body: src.source };
  };
}

describe.each(clients)('256 MiB bodies over %s', (_name, makeLink) => {
  const r = new Resources();
  afterEach(() => r.closeAll());

  it('streams 256 MiB up and 256 MiB down with bounded memory', { timeout: 120_000 }, async () => {
    const download: { digest?: () => string } = {};
    const server = await r.server(bulkHandler(download));
    const link = r.link(makeLink());

    const upload = patternSource(SIZE);
    const upGrowth = await peakGrowth(async () => {
      const res = await link.request(server.url, { method: 'POST', path: '/raft/snapshot', headers: {}, body: upload.source });
      expect(res.status).toBe(200);
      expect(JSON.parse(await readText(res.body))).toEqual({ bytes: SIZE, sha256: upload.digest() });
    });
    expect(upGrowth.rss).toBeLessThan(GROWTH_LIMIT);
    expect(upGrowth.live).toBeLessThan(GROWTH_LIMIT);

    const downGrowth = await peakGrowth(async () => {
      const res = await link.openStream(server.url, { method: 'GET', path: '/raft/stream/big', headers: {} });
      expect(res.status).toBe(200);
      const got = await hashBody(res.body);
      expect(got).toEqual({ bytes: SIZE, sha256: download.digest!() });
    });
    expect(downGrowth.rss).toBeLessThan(GROWTH_LIMIT);
    expect(downGrowth.live).toBeLessThan(GROWTH_LIMIT);
  });
});
