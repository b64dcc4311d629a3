/**
 * Keeps packages/adapters/examples/node-http.ts (the README's example)
 * runnable: runs it as a user would (tsx, its own process) and checks what it
 * prints, and that it exits by itself (nothing left open).
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const repoRoot = fileURLToPath(new URL('../../../../', import.meta.url));
const example = fileURLToPath(new URL('../../examples/node-http.ts', import.meta.url));
const tsconfig = fileURLToPath(new URL('../../examples/tsconfig.json', import.meta.url));

it('examples/node-http.ts runs: three members serve, connect, exchange heartbeats, stop and exit', { timeout: 60_000 }, async () => {
  const child = spawn(process.execPath, ['--import', 'tsx', example], {
    cwd: repoRoot,
    env: { ...process.env, TSX_TSCONFIG_PATH: tsconfig },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 45_000);
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  clearTimeout(timer);
  expect(err).toBe('');
  expect(code).toBe(0);
  expect(out).toMatch(/^member 1 serves http:\/\/127\.0\.0\.1:\d+$/m);
  expect(out).toContain('member 2 received MsgHeartbeat from 1 (term 1)');
  expect(out).toContain('member 3 received MsgHeartbeat from 1 (term 1)');
  expect(out).toContain('member 1 received 2 MsgHeartbeatResp');
  expect(out.trimEnd().endsWith('stopped')).toBe(true);
});
