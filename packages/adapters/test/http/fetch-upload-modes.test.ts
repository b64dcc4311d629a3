import type { HandlerRequest } from '@raftwire/core';
import { afterEach, describe, expect, it } from 'vitest';
import { FetchLink } from '../../src/http/index.js';
import { Resources, bytes, hashBody, json, patternSource, readText, rejectionOf, waitFor } from './helpers.js';

describe('FetchLink upload modes', () => {
  const r = new Resources();
  afterEach(() => r.closeAll());

  async function recordingServer() {
    const seen: HandlerRequest[] = [];
    const server = await r.server(async (req) => {
      seen.push(req);
      return json(200, await hashBody(req.body));
    });
    return { server, seen };
  }

  it("'auto' streams iterable bodies in Node (chunked, no Content-Length)", async () => {
    const { server, seen } = await recordingServer();
    const link = r.link(new FetchLink());
    const src = patternSource(200_000);
    const res = await link.request(server.url, { method: 'POST', path: '/raft/snapshot', headers: {}, body: src.source });
    expect(JSON.parse(await readText(res.body))).toEqual({ bytes: 200_000, sha256: src.digest() });
    expect(seen[0]!.headers['transfer-encoding']).toBe('chunked');
    expect(seen[0]!.headers['content-length']).toBeUndefined();
  });

  it("'buffer' sends an iterable body whole, with its Content-Length", async () => {
    const { server, seen } = await recordingServer();
    const link = r.link(new FetchLink({ uploadMode: 'buffer' }));
    const src = patternSource(200_000, 30_000);
    const res = await link.request(server.url, { method: 'POST', path: '/raft', headers: {}, body: src.source });
    expect(JSON.parse(await readText(res.body))).toEqual({ bytes: 200_000, sha256: src.digest() });
    expect(seen[0]!.headers['content-length']).toBe('200000');
  });

  it("'buffer' refuses a body over maxBufferedBodyBytes with ERR_BUFFER_FULL before sending anything", async () => {
    const { server, seen } = await recordingServer();
    const link = r.link(new FetchLink({ uploadMode: 'buffer', maxBufferedBodyBytes: 100_000 }));
    let closed = false;
    const body = (async function* () {
      try {
        for (;;) yield new Uint8Array(30_000);
      } finally {
        closed = true;
      }
    })();
    const err = await rejectionOf(link.request(server.url, { method: 'POST', path: '/raft', headers: {}, body }));
    expect(err).toMatchObject({ code: 'ERR_BUFFER_FULL' });
    expect(closed).toBe(true);
    expect(seen).toHaveLength(0);
  });

  it("'buffer' honours an abort while the body is being gathered", async () => {
    const { server, seen } = await recordingServer();
    const link = r.link(new FetchLink({ uploadMode: 'buffer' }));
    let closed = false;
    let produced = 0;
    const body = (async function* () {
      try {
        for (;;) {
          produced++;
          yield bytes('x');
          await new Promise((res) => setTimeout(res, 10));
        }
      } finally {
        closed = true;
      }
    })();
    const ac = new AbortController();
    const p = link.request(server.url, { method: 'POST', path: '/raft', headers: {}, body, signal: ac.signal });
    await waitFor(() => produced > 3, 'the body to start');
    ac.abort();
    expect(await rejectionOf(p)).toMatchObject({ code: 'ERR_ABORTED' });
    await waitFor(() => closed, 'the source to be closed');
    expect(seen).toHaveLength(0);
  });
});
