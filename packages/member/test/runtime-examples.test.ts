/**
 * Keeps the per-runtime member examples of docs/runtimes/ runnable, the way a user runs them:
 * examples/deno-member.ts with the deno binary from node_modules, examples/bun-member.ts with bun,
 * examples/workerd-member.mjs with plain node (it starts workerd from node_modules beside two Node
 * members). Each must print what its members replicated and exit by itself (nothing left open).
 * A runtime that cannot start fails the test: it never skips. Node's own example is
 * example.test.ts; the browser's is e2e/tests/browser-example.spec.ts.
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { requireRuntime, runtimeCommand } from '../../../tools/runtimes.mjs';
import { freeConsecutivePorts, run } from './processes.js';

const example = (name: string) => fileURLToPath(new URL(`../../../examples/${name}`, import.meta.url));

describe('per-runtime member examples', () => {
  for (const runtime of ['deno', 'bun'] as const) {
    it(`examples/${runtime}-member.ts runs on ${runtime}: three members elect, replicate, read back, close and exit`, {
      timeout: 90_000,
    }, async () => {
      requireRuntime(runtime);
      const base = await freeConsecutivePorts(3);
      const { command, args } = runtimeCommand(runtime, example(`${runtime}-member.ts`), [String(base)]);
      const { code, out, err } = await run(command, args, process.cwd(), 60_000);
      const context = `exit ${code}\nstdout:\n${out}\nstderr:\n${err}`;
      expect(code, context).toBe(0);
      expect(out, context).toContain('put greeting');
      for (const id of [1, 2, 3]) expect(out, context).toContain(`member ${id} reads greeting = hello from ${runtime}`);
      expect(out, context).toMatch(/^leader is member [123] in term \d+$/m);
      expect(out.trimEnd().endsWith('closed'), context).toBe(true);
    });
  }

  it('examples/workerd-member.mjs runs: a workerd member and two Node members replicate both ways, then close and exit', {
    timeout: 120_000,
  }, async () => {
    requireRuntime('workerd');
    const base = await freeConsecutivePorts(3);
    const { code, out, err } = await run(process.execPath, [example('workerd-member.mjs'), String(base)], process.cwd(), 90_000);
    const context = `exit ${code}\nstdout:\n${out}\nstderr:\n${err}`;
    expect(code, context).toBe(0);
    expect(out, context).toContain('member 3 (workerd) reads greeting: 200 {"key":"greeting","value":"hello"}');
    expect(out, context).toContain('put from-workerd through member 3 (workerd): 200');
    for (const id of [1, 2]) expect(out, context).toContain(`member ${id} (node) reads from-workerd = hi from a Durable Object`);
    expect(out, context).toMatch(/^member 3 runs on workerd; leader is member [123] in term \d+$/m);
    expect(out.trimEnd().endsWith('closed'), context).toBe(true);
  });
});
