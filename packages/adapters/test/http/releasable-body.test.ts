import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ReleasableBody } from '@raftwire/core';
import { afterEach, describe, expect, it } from 'vitest';
import { writeHandlerResponse } from '../../src/http/node/write-response.js';

/** A body that records what the Node adapter does with its chunks. */
class RecordingBody implements ReleasableBody {
  accepted = false;
  readonly outstanding = new Set<Uint8Array>();
  readonly released: Uint8Array[] = [];
  maxAheadAtNext = 0;
  constructor(private readonly chunks: Uint8Array[]) {}
  acceptReleases(): void {
    this.accepted = true;
  }
  releaseChunk(chunk: Uint8Array): void {
    if (!this.outstanding.delete(chunk)) throw new Error('released a chunk that is not outstanding');
    this.released.push(chunk);
  }
  async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array> {
    for (const c of this.chunks) {
      this.maxAheadAtNext = Math.max(this.maxAheadAtNext, this.outstanding.size);
      this.outstanding.add(c);
      yield c;
    }
  }
}

let server: http.Server | undefined;
afterEach(async () => {
  await new Promise((r) => server?.close(r));
  server = undefined;
});

describe('Node adapter: a releasable response body', () => {
  it('hands every chunk back exactly once, keeping at most two written ahead of the socket', async () => {
    const chunks = Array.from({ length: 64 }, (_, i) => new Uint8Array(256 * 1024).fill(i));
    const body = new RecordingBody(chunks);
    let outcome: Promise<string> | undefined;
    server = http.createServer((_req, res) => {
      outcome = writeHandlerResponse(res, { status: 200, headers: {}, body }, {}, new AbortController().signal);
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    const received = await new Promise<Buffer>((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port, path: '/' }, async (res) => {
          const parts: Buffer[] = [];
          // a slow reader: the socket fills, the adapter must wait on the releases
          for await (const p of res) {
            parts.push(p as Buffer);
            if (parts.length % 16 === 0) await new Promise((r) => setTimeout(r, 5));
          }
          resolve(Buffer.concat(parts));
        })
        .on('error', reject);
    });
    expect(await outcome).toBe('complete');
    expect(body.accepted).toBe(true);
    expect(body.released.length).toBe(chunks.length);
    expect(new Set(body.released).size).toBe(chunks.length);
    expect(body.outstanding.size).toBe(0);
    expect(body.maxAheadAtNext).toBeLessThanOrEqual(1);
    expect(received.length).toBe(64 * 256 * 1024);
    for (let i = 0; i < 64; i++) expect(received[i * 256 * 1024 + 100]).toBe(i);
  });
});
