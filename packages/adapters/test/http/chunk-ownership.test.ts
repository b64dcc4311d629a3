import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { NodeHttpLink } from '../../src/http/node/node-link.js';

/**
 * The msgapp decoder hands entry data out as views of the chunks it is fed (core's
 * msgapp-views.test.ts), so an adapter must feed it chunks whose memory is never reused. This pins
 * that for NodeHttpLink over node:http: every response chunk keeps its bytes after many more
 * chunks went through the same socket (an http: stream dial hands out views of socket reads,
 * which node allocates fresh each: raw-stream.ts), and no two chunks share bytes.
 */
let server: http.Server | undefined;
afterEach(async () => {
  await new Promise((r) => server?.close(r));
  server = undefined;
});

const byteAt = (i: number): number => (i * 7 + (i >>> 11)) & 0xff;

describe('NodeHttpLink response chunks', () => {
  it('are never reused: each keeps its bytes after 32 MiB more went through the socket', async () => {
    const total = 32 * 1024 * 1024;
    const piece = 48 * 1024 + 13; // odd-sized writes, so reads and chunks do not line up
    server = http.createServer((_req, res) => {
      res.writeHead(200);
      let sent = 0;
      const pump = (): void => {
        while (sent < total) {
          const n = Math.min(piece, total - sent);
          const b = Buffer.allocUnsafe(n);
          for (let i = 0; i < n; i++) b[i] = byteAt(sent + i);
          sent += n;
          if (!res.write(b)) {
            res.once('drain', pump);
            return;
          }
        }
        res.end();
      };
      pump();
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    const link = new NodeHttpLink();
    try {
      const res = await link.openStream(`http://127.0.0.1:${port}`, { method: 'GET', path: '/', headers: {} });
      const chunks: { chunk: Uint8Array; at: number }[] = [];
      let at = 0;
      for await (const chunk of res.body) {
        chunks.push({ chunk, at });
        at += chunk.length;
      }
      expect(at).toBe(total);
      expect(chunks.length).toBeGreaterThan(16);
      for (const { chunk, at: start } of chunks) {
        for (let i = 0; i < chunk.length; i += 97) expect(chunk[i]).toBe(byteAt(start + i));
        expect(chunk[chunk.length - 1]).toBe(byteAt(start + chunk.length - 1));
      }
      // No two chunks share memory.
      const byBuffer = new Map<ArrayBufferLike, [number, number][]>();
      for (const { chunk } of chunks) {
        const spans = byBuffer.get(chunk.buffer) ?? [];
        for (const [s, e] of spans) expect(chunk.byteOffset >= e || chunk.byteOffset + chunk.length <= s).toBe(true);
        spans.push([chunk.byteOffset, chunk.byteOffset + chunk.length]);
        byBuffer.set(chunk.buffer, spans);
      }
    } finally {
      link.close();
    }
  });
});
