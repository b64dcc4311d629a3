/**
 * `npm run raftwire -- <args>` (the root script): scripts/run.mjs builds only when needed and runs
 * the CLI with the arguments, keeping stdout for the CLI; Ctrl-C (SIGINT to npm's whole process
 * group, as a terminal sends it) on a cluster exits 0 with no npm or pnpm failure message.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';
import { collectLines, freeBasePort, waitFor } from './member-process.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const cliVersion = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

function npmRun(args: string[]) {
  // detached: a process group of its own, so the test can signal it as a terminal would.
  const child = spawn('npm', ['run', '--silent', 'raftwire', '--', ...args], {
    cwd: root,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines = collectLines(child);
  let stdout = '';
  child.stdout?.on('data', (d: Buffer) => {
    stdout += d.toString('utf8');
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
    child.on('exit', (code, signal) => r({ code, signal })),
  );
  return { child, lines, exited, stdout: () => stdout };
}

const groups: number[] = [];
afterAll(() => {
  for (const pid of groups) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});

it('npm run raftwire -- --version prints the CLI version on stdout and exits 0', async () => {
  const r = npmRun(['--version']);
  groups.push(r.child.pid as number);
  expect(await r.exited).toEqual({ code: 0, signal: null });
  expect(r.stdout().trim().split('\n').at(-1)).toBe(cliVersion);
}, 120_000);

it('Ctrl-C on npm run raftwire -- cluster stops every member and exits 0 without an npm failure', async () => {
  const base = await freeBasePort(3);
  const r = npmRun(['cluster', '--insecure', '--base-port', String(base)]);
  const pid = r.child.pid as number;
  groups.push(pid);
  await waitFor(
    '3 members ready and a leader',
    60_000,
    async () => {
      if (r.child.exitCode !== null) throw new Error(`exited early:\n${r.lines.join('\n')}`);
      return r.lines.filter((l) => l.includes('member ready')).length === 3 && r.lines.some((l) => /became leader/.test(l));
    },
    100,
  );
  process.kill(-pid, 'SIGINT');
  const exit = await r.exited;
  const text = r.lines.join('\n');
  expect(exit, text).toEqual({ code: 0, signal: null });
  for (const id of [1, 2, 3]) expect(text).toContain(`[${id}] exited (code 0)`);
  expect(text).not.toMatch(/ELIFECYCLE|Command failed|npm error|npm ERR/);
}, 120_000);
