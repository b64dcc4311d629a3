import * as http from 'node:http';
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deadline } from '../src/cluster/api-client.js';
import { freePort } from '../src/cluster/chaos-cluster.js';
import type { KvOperation } from '../src/history.js';
import { runOperation } from '../src/workload.js';

/** A stand-in for a member's API: the key names the answer. */
let server: http.Server;
let base = '';
beforeAll(async () => {
  server = http.createServer((req, res) => {
    const key = decodeURIComponent((req.url ?? '').split('/').pop() ?? '');
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (key === 'ok') send(200, req.method === 'GET' ? { key, value: 'v1' } : req.method === 'DELETE' ? { key, existed: true } : { key });
    else if (key === 'absent') send(404, { error: 'not found', code: 'ERR_KEY_NOT_FOUND' });
    else if (key === 'bad') send(400, { error: 'bad key', code: 'ERR_INVALID_KEY' });
    else if (key === 'timeout') send(503, { error: 'timed out', code: 'ERR_TIMEOUT' });
    else if (key === 'internal') send(500, { error: 'internal', code: 'ERR_INTERNAL' });
    else if (key === 'hang') req.resume(); // never answers
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
});

const t0 = performance.now();
const now = () => performance.now() - t0;

async function run(kind: KvOperation['kind'], key: string, url = base, ms = 5000): Promise<KvOperation> {
  const op: KvOperation = { id: 0, client: 'c0', member: 'm1', kind, key, invoke: now(), complete: null, outcome: 'unknown' };
  if (kind === 'put') op.value = 'c0-0';
  const limit = deadline(ms);
  await runOperation(op, url, limit.signal, now).finally(limit.dispose);
  return op;
}

describe('client outcomes', () => {
  it('answers are ok, with what a get read and what a delete found', async () => {
    expect(await run('put', 'ok')).toMatchObject({ outcome: 'ok' });
    expect(await run('get', 'ok')).toMatchObject({ outcome: 'ok', read: 'v1' });
    expect(await run('get', 'absent')).toMatchObject({ outcome: 'ok', read: null });
    expect(await run('delete', 'ok')).toMatchObject({ outcome: 'ok', existed: true });
  });

  it('a 4xx refusal and a refused connection are failures (nothing happened)', async () => {
    expect(await run('put', 'bad')).toMatchObject({ outcome: 'fail', error: 'HTTP 400 ERR_INVALID_KEY' });
    expect(await run('put', 'absent')).toMatchObject({ outcome: 'fail' });
    const closedPort = await freePort();
    expect(await run('put', 'ok', `http://127.0.0.1:${closedPort}`)).toMatchObject({ outcome: 'fail', error: 'ECONNREFUSED' });
  });

  it('5xx, resets and timeouts are unknown (it may have happened)', async () => {
    expect(await run('put', 'timeout')).toMatchObject({ outcome: 'unknown', error: 'HTTP 503 ERR_TIMEOUT' });
    expect(await run('delete', 'internal')).toMatchObject({ outcome: 'unknown', error: 'HTTP 500 ERR_INTERNAL' });
    const reset = createServer((s) => s.resetAndDestroy());
    await new Promise<void>((r) => reset.listen(0, '127.0.0.1', r));
    const port = (reset.address() as { port: number }).port;
    expect((await run('put', 'ok', `http://127.0.0.1:${port}`)).outcome).toBe('unknown');
    await new Promise<void>((r) => reset.close(() => r()));
    // The client's own timeout ends the wait.
    const hung = await run('put', 'hang', base, 300);
    expect(hung).toMatchObject({ outcome: 'unknown', error: 'TIMEOUT' });
    expect((hung.complete as number) - hung.invoke).toBeLessThan(5000);
  });
});

describe('member ports', () => {
  it('are distinct and below the ephemeral range, so no outgoing connection can take one before its member binds it', async () => {
    const [lo] = (await import('node:fs')).readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    const ports = await Promise.all(Array.from({ length: 40 }, () => freePort()));
    expect(new Set(ports).size).toBe(40);
    for (const p of ports) expect(p).toBeLessThan(lo as number);
  });
});
