import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:net';

/**
 * Runs a command to its end (killed after `timeout` ms) and resolves with its exit code and
 * output. Nothing of this process's loaders or test runner leaks into the child, and no
 * NODE_PATH: pnpm's bin shims set it to the workspace's store, where require() would find
 * packages the child's own project never installed.
 */
export function run(cmd: string, args: string[], cwd: string, timeout = 60_000): Promise<{ code: number; out: string; err: string }> {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (k !== 'NODE_OPTIONS' && k !== 'NODE_PATH' && !k.startsWith('VITEST')) env[k] = v;
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd, env, timeout }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
      resolve({ code, out: stdout, err: stderr });
    });
  });
}

/** A port p such that p .. p+count-1 are all free on 127.0.0.1 (each bound, then released). */
export async function freeConsecutivePorts(count: number): Promise<number> {
  const listen = (port: number) =>
    new Promise<Server | null>((resolve) => {
      const s = createServer();
      s.once('error', () => resolve(null));
      s.listen(port, '127.0.0.1', () => resolve(s));
    });
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 30_000);
    const servers = await Promise.all(Array.from({ length: count }, (_, i) => listen(base + i)));
    await Promise.all(servers.map((s) => (s ? new Promise((r) => s.close(r)) : null)));
    if (servers.every((s) => s !== null)) return base;
  }
  throw new Error(`no ${count} consecutive free ports found`);
}
