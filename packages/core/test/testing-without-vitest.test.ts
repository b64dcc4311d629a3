/**
 * `@raftwire/core/testing` works without vitest (under jest, node:test, in a
 * bench): its built entry is loaded in a child Node process whose module
 * resolution refuses vitest, and a node:test file exchanges raft messages
 * over MemoryNetwork there. The child also checks that vitest really is out
 * of reach and that `@raftwire/core/compliance`, the one entry that needs it,
 * fails to load.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const here = fileURLToPath(new URL('./without-vitest/', import.meta.url));

function run(cmd: string, args: string[], cwd: string): Promise<{ code: number; out: string }> {
  // Nothing of this process's own loaders or test runner leaks into the child.
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (k !== 'NODE_OPTIONS' && !k.startsWith('VITEST')) env[k] = v;
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd, env, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1;
      resolve({ code, out: `${stdout}${stderr}` });
    });
  });
}

describe('@raftwire/core/testing without vitest', () => {
  beforeAll(async () => {
    // The child loads dist/: bring it up to date with src/ first (a no-op when it is).
    const tsc = await run(process.execPath, [`${root}node_modules/typescript/bin/tsc`, '-b', 'packages/core/tsconfig.json'], root);
    expect(tsc.code, tsc.out).toBe(0);
  }, 120_000);

  it('runs a node:test exchange over the built entry while vitest cannot be resolved', async () => {
    const r = await run(
      process.execPath,
      ['--import', './refuse-vitest.mjs', '--test', '--test-reporter=tap', 'memory-exchange.test.mjs'],
      here,
    );
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/^# pass 2$/m);
    expect(r.out).toMatch(/^# fail 0$/m);
  }, 60_000);
});
