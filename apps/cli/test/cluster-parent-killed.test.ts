/**
 * `raftwire cluster` runs its members as child processes. When the cluster command itself dies
 * without a chance to stop them (SIGKILL, a crash, a closed terminal's kill), its members must not
 * live on as orphans holding their ports and data dirs: each has a stdin pipe from the cluster
 * command (`--stop-on-stdin-close`), and its end is their signal to stop.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI_MAIN, collectLines, freeBasePort, waitFor } from './member-process.js';

const dataDir = mkdtempSync(join(tmpdir(), 'raftwire-orphan-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

/** Whether something accepts TCP connections on 127.0.0.1:port. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

describe('raftwire cluster killed with SIGKILL', () => {
  it('its members stop by themselves: every peer and API port is released', async () => {
    const size = 2;
    const base = await freeBasePort(size);
    const child = spawn(
      process.execPath,
      [CLI_MAIN, 'cluster', '--insecure', '--size', String(size), '--base-port', String(base), '--data-dir', dataDir],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const lines = collectLines(child);
    const exited = new Promise((r) => child.on('exit', r));
    const ports = Array.from({ length: 2 * size }, (_, i) => base + i);
    try {
      // Settled (a leader, known to both): an orphan then has nothing to log, so no EPIPE ends it by accident.
      await waitFor(
        'both members ready, and a leader they both know',
        60_000,
        async () => lines.filter((l) => l.includes('leader changed')).length >= size,
      );
      await new Promise((r) => setTimeout(r, 500));
      for (const p of ports) expect(await listening(p), `port ${p} before the kill`).toBe(true);
      child.kill('SIGKILL');
      await exited;
      // A member's shutdown is bounded at 1.5 s; the bound here is for a loaded machine.
      await waitFor(
        'every member port released',
        30_000,
        async () => {
          for (const p of ports) if (await listening(p)) return false;
          return true;
        },
        100,
      );
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  }, 120_000);
});
