/**
 * Keeps examples/http-cluster.mjs (the README's example) runnable: runs it with plain `node`, as
 * a user would, on three free consecutive ports, and checks what it prints and that it exits by
 * itself (nothing left open).
 */
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { freeConsecutivePorts, run } from './processes.js';

const example = fileURLToPath(new URL('../../../examples/http-cluster.mjs', import.meta.url));

it('examples/http-cluster.mjs runs: three members elect, replicate, read back, close and exit', { timeout: 60_000 }, async () => {
  const base = await freeConsecutivePorts(3);
  const { code, out, err } = await run(process.execPath, [example, String(base)], process.cwd(), 45_000);
  expect(err).toBe('');
  expect(code).toBe(0);
  expect(out).toContain('put greeting (previous value: none)');
  for (const id of [1, 2, 3]) expect(out).toContain(`member ${id} reads greeting = hello`);
  expect(out).toMatch(/^leader is member [123] in term \d+, commit index \d+$/m);
  for (const id of [1, 2, 3]) expect(out).toContain(`member ${id} stopped: closed`);
});
