import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { Resources, bytes, clients, readText, rejectionOf } from './helpers.js';

const repoRoot = fileURLToPath(new URL('../../../../', import.meta.url));
const script = fileURLToPath(new URL('./fixtures/child-server.ts', import.meta.url));
const tsconfig = fileURLToPath(new URL('./fixtures/tsconfig.json', import.meta.url));

/** Starts the fixture server in a child Node process (through tsx) and waits for its URL. */
function startChild(): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', script], {
    cwd: repoRoot,
    env: { ...process.env, TSX_TSCONFIG_PATH: tsconfig },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    let errText = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`child server did not start: ${errText}`));
    }, 20_000);
    child.stderr!.on('data', (d: Buffer) => {
      errText += d.toString();
    });
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const nl = out.indexOf('\n');
      if (nl !== -1) {
        clearTimeout(timer);
        resolve({ child, url: (JSON.parse(out.slice(0, nl)) as { url: string }).url });
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`child server exited with ${code}: ${errText}`));
    });
  });
}

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise((resolve) => child.once('exit', () => resolve()));
}

describe.each(clients)('a server in a child process, with %s', (_name, makeLink) => {
  const r = new Resources();
  afterEach(() => r.closeAll());

  it('serves, then ERR_LINK once the process is killed', { timeout: 60_000 }, async () => {
    const { child, url } = await startChild();
    r.defer(() => {
      child.kill('SIGKILL');
      return exited(child);
    });
    const link = r.link(makeLink());
    const res = await link.request(url, { method: 'POST', path: '/raft', headers: {}, body: bytes('across processes') });
    expect(res.status).toBe(200);
    expect(res.headers['x-pid']).toBe(String(child.pid));
    expect(await readText(res.body)).toBe('across processes');

    const stream = await link.openStream(url, { method: 'GET', path: '/raft/stream/message/1', headers: {} });
    const it = stream.body[Symbol.asyncIterator]();
    expect(new TextDecoder().decode((await it.next()).value)).toMatch(/^tick-0;/);

    child.kill('SIGKILL');
    await exited(child);
    // The open stream breaks (it may still hand out frames already received), and new requests are refused.
    const streamErr = await rejectionOf(
      (async () => {
        for (;;) if ((await it.next()).done) return;
      })(),
    );
    expect(streamErr).toMatchObject({ code: 'ERR_LINK' });
    const start = Date.now();
    const err = await rejectionOf(link.request(url, { method: 'POST', path: '/raft', headers: {}, body: bytes('anyone?') }));
    expect(err).toMatchObject({ code: 'ERR_LINK' });
    expect(Date.now() - start).toBeLessThan(5000);
  });
});
