/**
 * `raftwire cluster --runtimes node,deno,bun`: three members, one on each
 * runtime, started by the CLI itself; a write through one is read through the
 * others, and SIGINT stops them all. Deno and Bun come from node_modules (the
 * CLI resolves their packages); one that cannot start fails the test.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { freePortBlock } from '../../../tools/ports.mjs';
import { requireRuntime } from '../../../tools/runtimes.mjs';
import { parseClusterArgs } from '../src/cluster.js';
import { UsageError } from '../src/usage-error.js';
import { api, CLI_MAIN } from './member-process.js';

let stop: (() => void) | undefined;
beforeAll(() => {
  for (const r of ['deno', 'bun']) requireRuntime(r);
});
afterAll(() => stop?.());

it('raftwire cluster --runtimes node,deno,bun runs one member on each and they form one cluster', async () => {
  const base = await freePortBlock(6); // below the ephemeral range: outgoing connections cannot take them meanwhile
  const child = spawn(process.execPath, [CLI_MAIN, 'cluster', '--insecure', '--runtimes', 'node,deno,bun', '--base-port', String(base)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  stop = () => child.exitCode === null && child.kill('SIGKILL');
  const lines: string[] = [];
  createInterface({ input: child.stdout }).on('line', (l) => lines.push(l));
  createInterface({ input: child.stderr }).on('line', (l) => lines.push(l));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const apiUrl = (i: number) => `http://127.0.0.1:${base + 2 * i + 1}`;

  const deadline = Date.now() + 30_000;
  const ready = (id: number, runtime: string) =>
    lines.some((l) => l.startsWith(`[${id}] `) && l.includes('member ready') && l.includes(`runtime=${runtime}`));
  while (!(ready(1, 'node') && ready(2, 'deno') && ready(3, 'bun'))) {
    if (Date.now() > deadline) throw new Error(`members not ready in 30 s:\n${lines.join('\n')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  let put = await api(`${apiUrl(1)}/v1/kv/greeting`, { method: 'PUT', body: 'hello' });
  while (put.status !== 200 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200));
    put = await api(`${apiUrl(1)}/v1/kv/greeting`, { method: 'PUT', body: 'hello' });
  }
  expect(put.status).toBe(200);
  for (const i of [1, 2]) expect((await api(`${apiUrl(i)}/v1/kv/greeting`)).body.value).toBe('hello');
  expect(lines.filter((l) => /^ {2}member \d/.test(l)).map((l) => l.split(' on ')[1])).toEqual(['node', 'deno', 'bun']);

  child.kill('SIGINT');
  expect(await exited).toBe(0);
  for (const id of [1, 2, 3]) expect(lines.some((l) => l.startsWith(`[${id}] exited`))).toBe(true);
}, 60_000);

it('--runtimes takes node, deno and bun, round-robin; anything else is a usage error', () => {
  expect(parseClusterArgs(['--runtimes', 'deno,bun', '--insecure']).runtimes).toEqual(['deno', 'bun']);
  expect(() => parseClusterArgs(['--runtimes', 'deno,bun'])).toThrow(/cannot authenticate peers with mutual TLS yet/);
  expect(parseClusterArgs([]).runtimes).toEqual(['node']);
  expect(() => parseClusterArgs(['--runtimes', 'node,python'])).toThrow(UsageError);
  expect(() => parseClusterArgs(['--runtimes', 'node,python'])).toThrow(/"python" is not one of node, deno, bun/);
});
