// Smoke test of the etcd bench's load generator and /proc stat parsing: correctness only, nothing timed.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpuSeconds, KeepAliveClient, parseProcStat, percentile, runLoad } from '../src/_loadgen.js';

describe('parseProcStat', () => {
  it('reads utime and stime after a command name with spaces and parentheses', () => {
    const line = '4242 (node (bench) x) S 1 4242 4242 0 -1 4194560 1234 0 0 0 731 92 0 0 20 0 11 0 9999 1000000 5000';
    expect(parseProcStat(line)).toEqual({ utimeTicks: 731, stimeTicks: 92 });
  });
  it('refuses text that is not a stat line', () => {
    expect(() => parseProcStat('garbage')).toThrow(TypeError);
    expect(() => parseProcStat('1 (x) S 1')).toThrow(TypeError);
  });
  it('reads this process from /proc', () => {
    expect(cpuSeconds([process.pid])).toBeGreaterThanOrEqual(0);
    expect(cpuSeconds([2 ** 30])).toBe(0);
  });
});

describe('percentile', () => {
  it('is nearest rank over a sorted array', () => {
    const a = Float64Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(a, 50)).toBe(50);
    expect(percentile(a, 99)).toBe(99);
    expect(percentile(a, 100)).toBe(100);
    expect(percentile(new Float64Array(0), 50)).toBeNaN();
  });
});

describe('runLoad over keep-alive HTTP', () => {
  let server: Server;
  let origin = '';
  const seen: string[] = [];
  const sockets = new Set<unknown>();
  beforeAll(async () => {
    server = createServer((req, res) => {
      sockets.add(req.socket);
      let n = 0;
      req.on('data', (c: Buffer) => {
        n += c.length;
      });
      req.on('end', () => {
        seen.push(`${req.method} ${req.url} ${n}`);
        if (req.url?.endsWith('/fail')) res.writeHead(500).end();
        else res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise<void>((r) => server.close(() => r()));
  });

  it('stops at maxOps, keeps every latency, and reuses connections', async () => {
    const client = new KeepAliveClient(origin, 4);
    const body = new Uint8Array(128);
    const r = await runLoad({
      concurrency: 4,
      durationMs: 60_000,
      maxOps: 200,
      op: async (i) => {
        await client.send('PUT', `/v1/kv/k${i}`, body, 'application/octet-stream');
      },
    });
    client.close();
    expect(r.ops).toBe(200);
    expect(r.errors).toBe(0);
    expect(r.latenciesMs.length).toBe(200);
    for (let i = 1; i < r.latenciesMs.length; i++) expect(r.latenciesMs[i]).toBeGreaterThanOrEqual(r.latenciesMs[i - 1] as number);
    expect(seen.filter((s) => s.startsWith('PUT /v1/kv/') && s.endsWith(' 128')).length).toBe(200);
    expect(sockets.size).toBeLessThanOrEqual(4);
  });

  it('counts failures apart from successes', async () => {
    const client = new KeepAliveClient(origin, 2);
    const r = await runLoad({
      concurrency: 2,
      durationMs: 60_000,
      maxOps: 10,
      op: async (i) => {
        await client.send('POST', i % 2 ? '/fail' : '/ok', new Uint8Array(1), 'application/json');
      },
    });
    client.close();
    expect(r.ops).toBe(5);
    expect(r.errors).toBe(5);
    expect(r.firstError).toMatch(/HTTP 500/);
  });
});
