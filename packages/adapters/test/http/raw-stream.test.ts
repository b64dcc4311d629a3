import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import { ErrorCode, RaftwireError } from '@raftwire/core';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { NodeHttpLink } from '../../src/http/node/node-link.js';
import { BodyDecoder, type Framing } from '../../src/http/node/raw-stream.js';

/**
 * NodeHttpLink reads an `http:` stream dial's response off the socket without node's HTTP
 * parser (raw-stream.ts). Its body framing, split at every byte, and answers written by hand.
 */
const enc = (s: string): Buffer => Buffer.from(s, 'latin1');

function decodeAll(framing: Framing, pieces: readonly Buffer[]): { body: string; done: boolean } {
  const d = new BodyDecoder(framing);
  let body = '';
  for (const p of pieces) d.feed(p, (piece) => (body += Buffer.from(piece).toString('latin1')));
  return { body, done: d.done };
}

describe('raw stream body framing', () => {
  const chunked = '5;ext=1\r\nhello\r\n1\r\n \r\nA\r\n0123456789\r\n0\r\nTrailer: x\r\n\r\n';

  it('undoes chunked framing (extensions, trailers) split at every byte, and at every pair of bytes', () => {
    const wire = enc(chunked);
    for (let p = 0; p <= wire.length; p++) {
      for (let q = p; q <= wire.length; q++) {
        const got = decodeAll({ kind: 'chunked' }, [wire.subarray(0, p), wire.subarray(p, q), wire.subarray(q)]);
        expect(got).toEqual({ body: 'hello 0123456789', done: true });
      }
    }
    // Bare LF line ends too, and nothing after the end is taken.
    expect(decodeAll({ kind: 'chunked' }, [enc('3\nabc\n0\n\nXYZ')])).toEqual({ body: 'abc', done: true });
  });

  it('hands out views of the reads it is fed, not copies', () => {
    const read = enc('3\r\nabc\r\n');
    const d = new BodyDecoder({ kind: 'chunked' });
    const pieces: Uint8Array[] = [];
    d.feed(read, (p) => pieces.push(p));
    expect(pieces).toHaveLength(1);
    expect(pieces[0]!.buffer).toBe(read.buffer);
    expect(pieces[0]!.constructor).toBe(Uint8Array);
  });

  it('counts a Content-Length body and passes a close-delimited one through', () => {
    expect(decodeAll({ kind: 'length', left: 4 }, [enc('ab'), enc('cdEF')])).toEqual({ body: 'abcd', done: true });
    expect(decodeAll({ kind: 'length', left: 0 }, [enc('x')])).toEqual({ body: '', done: true });
    expect(decodeAll({ kind: 'close' }, [enc('ab'), enc('cd')])).toEqual({ body: 'abcd', done: false });
  });

  it('decodes any body in any chunking, split anywhere (fast-check)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ minLength: 1, maxLength: 300 }), { maxLength: 8 }),
        fc.array(fc.nat(), { maxLength: 6 }),
        (chunks, cuts) => {
          const parts: Buffer[] = [];
          for (const c of chunks) parts.push(enc(`${c.length.toString(16)}\r\n`), Buffer.from(c), enc('\r\n'));
          parts.push(enc('0\r\n\r\n'));
          const wire = Buffer.concat(parts);
          const at = [...new Set(cuts.map((n) => n % (wire.length + 1)))].sort((a, b) => a - b);
          const pieces: Buffer[] = [];
          let from = 0;
          for (const c of at) {
            pieces.push(wire.subarray(from, c));
            from = c;
          }
          pieces.push(wire.subarray(from));
          const d = new BodyDecoder({ kind: 'chunked' });
          const out: Buffer[] = [];
          for (const p of pieces) d.feed(p, (piece) => out.push(Buffer.from(piece)));
          expect(d.done).toBe(true);
          expect(Buffer.concat(out).equals(Buffer.concat(chunks.map((c) => Buffer.from(c))))).toBe(true);
        },
      ),
    );
  });

  it('answers random and mutated chunked input with body bytes or an Error only, never more bytes than fed (fast-check)', () => {
    const valid = enc(chunked);
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 200 }),
          fc.array(fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }).map((muts) => {
            const b = Buffer.from(valid);
            for (const [i, v] of muts) b[i] = v;
            return new Uint8Array(b);
          }),
        ),
        fc.nat(),
        (input, cut) => {
          const wire = Buffer.from(input);
          const c = cut % (wire.length + 1);
          const d = new BodyDecoder({ kind: 'chunked' });
          let out = 0;
          try {
            for (const p of [wire.subarray(0, c), wire.subarray(c)]) d.feed(p, (piece) => (out += piece.length));
          } catch (err) {
            expect(err).toBeInstanceOf(Error);
          }
          expect(out).toBeLessThanOrEqual(wire.length);
        },
      ),
      { numRuns: 5000 },
    );
  });

  it('refuses malformed chunk sizes and chunk ends', () => {
    for (const bad of ['x\r\n', '5\r\nhelloXX', '1234567890abc\r\n', '\r\n']) {
      expect(() => decodeAll({ kind: 'chunked' }, [enc(bad)])).toThrow();
    }
  });
});

let server: net.Server | undefined;
afterEach(async () => {
  await new Promise((r) => (server ? server.close(r) : r(undefined)));
  server = undefined;
});

/** A TCP server answering each connection's request head with `answer` (written in pieces). */
async function rawServer(answer: string[], closeAfter = true): Promise<string> {
  server = net.createServer((sock) => {
    let head = '';
    sock.on('data', async (d) => {
      head += d.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      for (const piece of answer) {
        sock.write(piece);
        await new Promise((r) => setTimeout(r, 2));
      }
      if (closeAfter) sock.end();
    });
    sock.on('error', () => {});
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function readAll(body: AsyncIterable<Uint8Array>): Promise<string> {
  let s = '';
  for await (const c of body) s += Buffer.from(c).toString('latin1');
  return s;
}

describe('NodeHttpLink stream dials read without node:http', () => {
  it('reads status, headers and a chunked body split anywhere', async () => {
    const url = await rawServer([
      'HTTP/1.1 200 OK\r\nX-Server-Version: 3.6.0\r\nX-Dup: a\r\nX-Dup: b\r\nTransfer-Encoding: chunked\r\n',
      '\r\n5\r',
      '\nhel',
      'lo\r\n0\r\n\r\n',
    ]);
    const link = new NodeHttpLink();
    try {
      const res = await link.openStream(url, { method: 'GET', path: '/raft/stream/message/1', headers: { 'X-Raft-To': '2' } });
      expect(res.status).toBe(200);
      expect(res.headers['x-server-version']).toBe('3.6.0');
      expect(res.headers['x-dup']).toBe('a, b');
      expect(await readAll(res.body)).toBe('hello');
    } finally {
      link.close();
    }
  });

  it('reads a Content-Length body (a 412 with its reason) and a close-delimited one', async () => {
    const link = new NodeHttpLink();
    try {
      let url = await rawServer(['HTTP/1.1 412 Precondition Failed\r\nContent-Length: 9\r\n\r\nmismatch\n'], false);
      let res = await link.openStream(url, { method: 'GET', path: '/', headers: {} });
      expect(res.status).toBe(412);
      expect(await readAll(res.body)).toBe('mismatch\n');
      await new Promise((r) => server!.close(r));
      url = await rawServer(['HTTP/1.1 200 OK\r\n\r\nab', 'cd']);
      res = await link.openStream(url, { method: 'GET', path: '/', headers: {} });
      expect(await readAll(res.body)).toBe('abcd');
    } finally {
      link.close();
    }
  });

  it('skips interim responses (100, 103) before the real one, split anywhere', async () => {
    const url = await rawServer([
      'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </x>\r',
      '\n\r\nHTTP/1.1 200 OK\r\nContent-',
      'Length: 2\r\n\r\nok',
    ]);
    const link = new NodeHttpLink();
    try {
      const res = await link.openStream(url, { method: 'GET', path: '/', headers: {} });
      expect(res.status).toBe(200);
      expect(res.headers['link']).toBeUndefined();
      expect(await readAll(res.body)).toBe('ok');
    } finally {
      link.close();
    }
  });

  it('fails a malformed head, and a chunked body cut short, with ERR_LINK', async () => {
    const link = new NodeHttpLink();
    try {
      let url = await rawServer(['HTTX/1.1 200 OK\r\n\r\n']);
      const err = await link.openStream(url, { method: 'GET', path: '/', headers: {} }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RaftwireError);
      expect((err as RaftwireError).code).toBe(ErrorCode.LINK);
      await new Promise((r) => server!.close(r));
      url = await rawServer(['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel']);
      const res = await link.openStream(url, { method: 'GET', path: '/', headers: {} });
      const cut = await readAll(res.body).catch((e: unknown) => e);
      expect(cut).toBeInstanceOf(RaftwireError);
      expect((cut as RaftwireError).code).toBe(ErrorCode.LINK);
    } finally {
      link.close();
    }
  });
});
