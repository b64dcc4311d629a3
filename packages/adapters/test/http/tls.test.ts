import * as net from 'node:net';
import * as tls from 'node:tls';
import type { ProtocolHandler } from '@raftwire/core';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { NodeHttpLink } from '../../src/http/node/index.js';
import { type TestPki, makeTestPki, requireOpenssl } from './certs.js';
import { ControlledStream, Resources, bytes, json, readAll, readText, rejectionOf } from './helpers.js';

const echo: ProtocolHandler = async (req) => {
  if (req.path.startsWith('/raft/stream/')) {
    const s = new ControlledStream(req.signal);
    s.push(bytes('over tls'));
    return { status: 200, headers: {}, body: s };
  }
  return { status: 200, headers: {}, body: await readAll(req.body) };
};

describe('TLS', () => {
  let pki: TestPki;
  beforeAll(() => {
    requireOpenssl();
    pki = makeTestPki();
  });
  const r = new Resources();
  afterEach(() => r.closeAll());

  it('round trip and stream over https, server verified against the test CA', async () => {
    const server = await r.server(echo, { tls: { key: pki.server.key, cert: pki.server.cert } });
    expect(server.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const link = r.link(new NodeHttpLink({ tls: { ca: pki.ca } }));
    const res = await link.request(server.url, { method: 'POST', path: '/raft', headers: {}, body: bytes('secret') });
    expect(res.status).toBe(200);
    expect(await readText(res.body)).toBe('secret');
    const stream = await link.openStream(server.url, { method: 'GET', path: '/raft/stream/message/1', headers: {} });
    const it = stream.body[Symbol.asyncIterator]();
    expect(new TextDecoder().decode((await it.next()).value)).toBe('over tls');
    await it.return?.();
  });

  it('a client that does not trust the server CA fails with ERR_LINK, on requests and stream dials', async () => {
    const server = await r.server(echo, { tls: { key: pki.server.key, cert: pki.server.cert } });
    const link = r.link(new NodeHttpLink({ tls: { ca: pki.otherCa } }));
    const err = await rejectionOf(link.request(server.url, { method: 'POST', path: '/raft', headers: {}, body: bytes('x') }));
    expect(err).toMatchObject({ code: 'ERR_LINK' });
    const err2 = await rejectionOf(link.openStream(server.url, { method: 'GET', path: '/raft/stream/message/1', headers: {} }));
    expect(err2).toMatchObject({ code: 'ERR_LINK' });
  });

  it('a stream dial verifies the server against `servername` when one is set', async () => {
    const server = await r.server(echo, { tls: { key: pki.server.key, cert: pki.server.cert } });
    // The server certificate names IP 127.0.0.1 only.
    const link = r.link(new NodeHttpLink({ tls: { ca: pki.ca, servername: 'member-1.invalid' } }));
    const err = await rejectionOf(link.openStream(server.url, { method: 'GET', path: '/raft/stream/message/1', headers: {} }));
    expect(err).toMatchObject({ code: 'ERR_LINK' });
    expect(String((err as Error).message)).toMatch(/member-1\.invalid|altnames|hostname/i);
  });

  describe('stream dials on their own TLS socket (raw-stream.ts)', () => {
    /** A TLS server that writes `pieces` as they are, one write each, to every connection. */
    const rawTlsServer = async (pieces: string[]): Promise<string> => {
      const sockets: tls.TLSSocket[] = [];
      const server = tls.createServer({ key: pki.server.key, cert: pki.server.cert }, (s) => {
        sockets.push(s);
        s.once('data', async () => {
          for (const p of pieces) {
            s.write(Buffer.from(p, 'latin1'));
            await new Promise((resolve) => setTimeout(resolve, 2));
          }
          s.end();
        });
        s.on('error', () => {});
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      r.defer(() => {
        for (const s of sockets) s.destroy();
        return new Promise<void>((resolve) => server.close(() => resolve()));
      });
      return `https://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
    };

    it('reads interim heads, headers and a chunked body split across TLS records', async () => {
      const url = await rawTlsServer([
        'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nX-Dup: a\r\nX-',
        'Dup: b\r\nTransfer-Encoding: chunked\r\n\r\n5\r',
        '\nhel',
        'lo\r\n0\r\n\r\n',
      ]);
      const link = r.link(new NodeHttpLink({ tls: { ca: pki.ca } }));
      const res = await link.openStream(url, { method: 'GET', path: '/raft/stream/message/1', headers: {} });
      expect(res.status).toBe(200);
      expect(res.headers['x-dup']).toBe('a, b');
      expect(await readText(res.body)).toBe('hello');
    });

    it('fails a malformed head and a chunked body cut short with ERR_LINK', async () => {
      const link = r.link(new NodeHttpLink({ tls: { ca: pki.ca } }));
      const bad = await rawTlsServer(['HTTX/1.1 200 OK\r\n\r\n']);
      expect(await rejectionOf(link.openStream(bad, { method: 'GET', path: '/', headers: {} }))).toMatchObject({ code: 'ERR_LINK' });
      const cut = await rawTlsServer(['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel']);
      const res = await link.openStream(cut, { method: 'GET', path: '/', headers: {} });
      expect(await rejectionOf(readText(res.body))).toMatchObject({ code: 'ERR_LINK' });
    });
  });

  it('the dial timeout covers the TLS handshake', async () => {
    // A TCP listener that never speaks TLS: the connection opens, the handshake never completes.
    const sockets: net.Socket[] = [];
    const silent = net.createServer((s) => sockets.push(s));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    r.defer(() => {
      for (const s of sockets) s.destroy();
      return new Promise<void>((resolve) => silent.close(() => resolve()));
    });
    const url = `https://127.0.0.1:${(silent.address() as net.AddressInfo).port}`;
    const link = r.link(new NodeHttpLink({ tls: { ca: pki.ca }, dialTimeoutMs: 300, responseTimeoutMs: 60_000 }));
    const start = Date.now();
    const err = await rejectionOf(link.request(url, { method: 'POST', path: '/raft', headers: {}, body: bytes('x') }));
    expect(err).toMatchObject({ code: 'ERR_LINK', cause: { code: 'ERR_TIMEOUT' } });
    expect((err as Error).message).toContain('dial timeout');
    expect(Date.now() - start).toBeLessThan(5000);
  });

  describe('mutual TLS', () => {
    const mtls = () => ({ key: pki.server.key, cert: pki.server.cert, ca: pki.ca, clientCertAuth: true });

    it('accepts a client with a certificate from the trusted CA and shows nothing else', async () => {
      const server = await r.server(async () => json(200, { ok: true }), { tls: mtls() });
      const link = r.link(new NodeHttpLink({ tls: { ca: pki.ca, cert: pki.client.cert, key: pki.client.key } }));
      const res = await link.request(server.url, { method: 'GET', path: '/raft/probing', headers: {} });
      expect(res.status).toBe(200);
      expect(JSON.parse(await readText(res.body))).toEqual({ ok: true });
    });

    it('rejects a client without a certificate (ERR_LINK) and never calls the handler', async () => {
      let calls = 0;
      const server = await r.server(
        async () => {
          calls++;
          return json(200, {});
        },
        { tls: mtls() },
      );
      const link = r.link(new NodeHttpLink({ tls: { ca: pki.ca } }));
      const err = await rejectionOf(link.request(server.url, { method: 'POST', path: '/raft', headers: {}, body: bytes('x') }));
      expect(err).toMatchObject({ code: 'ERR_LINK' });
      const err2 = await rejectionOf(link.openStream(server.url, { method: 'GET', path: '/raft/stream/message/1', headers: {} }));
      expect(err2).toMatchObject({ code: 'ERR_LINK' });
      expect(calls).toBe(0);
    });

    it('rejects a client whose certificate comes from another CA', async () => {
      let calls = 0;
      const server = await r.server(
        async () => {
          calls++;
          return json(200, {});
        },
        { tls: mtls() },
      );
      const link = r.link(new NodeHttpLink({ tls: { ca: pki.ca, cert: pki.otherClient.cert, key: pki.otherClient.key } }));
      const err = await rejectionOf(link.request(server.url, { method: 'POST', path: '/raft', headers: {}, body: bytes('x') }));
      expect(err).toMatchObject({ code: 'ERR_LINK' });
      expect(calls).toBe(0);
    });
  });
});
