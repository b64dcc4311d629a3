import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { NodeHttpLink } from '../../src/http/node/node-link.js';
import { startRaftServer } from '../../src/http/node/raft-server.js';
import { makeTestPki, requireOpenssl } from './certs.js';
import { ControlledStream } from './helpers.js';

/**
 * The msgapp decoder hands entry data out as views of the chunks it is fed (core's
 * msgapp-views.test.ts), so an adapter must feed it chunks whose memory is never reused. This pins
 * that for NodeHttpLink over node:http: every response chunk keeps its bytes after many more
 * chunks went through the same socket (an http: stream dial hands out views of socket reads,
 * which node allocates fresh each: raw-stream.ts; over TLS each decrypted piece is copied into a
 * fresh allocation), and no two chunks share bytes.
 */
let server: http.Server | undefined;
afterEach(async () => {
  const s = server;
  server = undefined;
  if (s !== undefined) await new Promise((r) => s.close(r));
});

const byteAt = (i: number): number => (i * 7 + (i >>> 11)) & 0xff;

/** The body's chunks, each with its offset in the body. */
async function collect(body: AsyncIterable<Uint8Array>): Promise<{ chunk: Uint8Array; at: number }[]> {
  const chunks: { chunk: Uint8Array; at: number }[] = [];
  let at = 0;
  for await (const chunk of body) {
    chunks.push({ chunk, at });
    at += chunk.length;
  }
  return chunks;
}

/** Every chunk still holds its bytes of the pattern (read after all of them arrived), and no two share memory. */
function expectOwnedChunks(chunks: readonly { chunk: Uint8Array; at: number }[], total: number): void {
  const last = chunks[chunks.length - 1];
  expect(last === undefined ? 0 : last.at + last.chunk.length).toBe(total);
  expect(chunks.length).toBeGreaterThan(16);
  const byBuffer = new Map<ArrayBufferLike, [number, number][]>();
  for (const { chunk, at: start } of chunks) {
    for (let i = 0; i < chunk.length; i += 97) expect(chunk[i]).toBe(byteAt(start + i));
    expect(chunk[chunk.length - 1]).toBe(byteAt(start + chunk.length - 1));
    const spans = byBuffer.get(chunk.buffer) ?? [];
    for (const [s0, e0] of spans) expect(chunk.byteOffset >= e0 || chunk.byteOffset + chunk.length <= s0).toBe(true);
    spans.push([chunk.byteOffset, chunk.byteOffset + chunk.length]);
    byBuffer.set(chunk.buffer, spans);
  }
}

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
      expectOwnedChunks(await collect(res.body), total);
    } finally {
      link.close();
    }
  });

  it('are never reused over TLS either: each keeps its bytes after 16 MiB more went through', async () => {
    requireOpenssl();
    const pki = makeTestPki();
    const total = 16 * 1024 * 1024;
    const piece = 48 * 1024 + 13;
    const tlsServer = await startRaftServer({
      handler: async (req) => {
        const s = new ControlledStream(req.signal);
        for (let sent = 0; sent < total; sent += piece) {
          const n = Math.min(piece, total - sent);
          const b = new Uint8Array(n);
          for (let i = 0; i < n; i++) b[i] = byteAt(sent + i);
          s.push(b);
        }
        s.end();
        return { status: 200, headers: {}, body: s };
      },
      tls: { key: pki.server.key, cert: pki.server.cert },
    });
    const link = new NodeHttpLink({ tls: { ca: pki.ca } });
    try {
      const res = await link.openStream(tlsServer.url, { method: 'GET', path: '/raft/stream/message/1', headers: {} });
      expectOwnedChunks(await collect(res.body), total);
    } finally {
      link.close();
      await tlsServer.close();
    }
  });
});
