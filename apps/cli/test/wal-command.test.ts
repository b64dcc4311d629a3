import { spawnSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EntryType } from '@raftwire/core';
import { FileStorage, inspectWalBytes } from '@raftwire/raft/node';
import { afterEach, describe, expect, it } from 'vitest';
import { UsageError } from '../src/usage-error.js';
import { EXIT_WAL_DAMAGED, runWalCommand } from '../src/wal-command.js';

const main = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'main.js');
const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

/** A data directory with a WAL of three one-entry records, the second one damaged. */
async function damagedDataDir(): Promise<{ dir: string; offsets: number[] }> {
  const dir = await mkdtemp(join(tmpdir(), 'raftwire-walcmd-'));
  dirs.push(dir);
  const s = await FileStorage.open(dir);
  for (let i = 1; i <= 3; i++) {
    s.append([{ index: i, term: 1, type: EntryType.EntryNormal, data: new Uint8Array(30).fill(i) }]);
    s.setHardState({ term: 1, vote: 1n, commit: i });
    await s.sync();
  }
  await s.close();
  const bytes = Uint8Array.from(await readFile(join(dir, 'wal.log')));
  const { offsets } = inspectWalBytes(bytes);
  const at = (offsets[1] as number) + 1; // the second record's length field
  bytes[at] = (bytes[at] as number) ^ 0x01;
  await writeFile(join(dir, 'wal.log'), bytes);
  return { dir, offsets };
}

describe('raftwire wal repair', () => {
  it('names the damage and changes nothing without --truncate; with it keeps the intact prefix', async () => {
    const { dir, offsets } = await damagedDataDir();
    const before = await readFile(join(dir, 'wal.log'));
    const lines: string[] = [];
    expect(await runWalCommand(['repair', '--data-dir', dir], (l) => lines.push(l))).toBe(EXIT_WAL_DAMAGED);
    expect(lines.join('\n')).toContain(`damage at byte offset ${offsets[1]}`);
    expect(lines.join('\n')).toContain('corruption');
    expect(Buffer.compare(await readFile(join(dir, 'wal.log')), before)).toBe(0);
    await expect(FileStorage.open(dir)).rejects.toThrow(new RegExp(`corrupt at byte offset ${offsets[1]}`));

    lines.length = 0;
    expect(await runWalCommand(['repair', '--data-dir', dir, '--truncate'], (l) => lines.push(l))).toBe(0);
    expect(lines.join('\n')).toMatch(/cut the WAL to \d+ bytes/);
    const s = await FileStorage.open(dir);
    expect(s.lastIndex()).toBe(1);
    await s.close();
    expect((await readdir(dir)).some((f) => f.startsWith('wal.log.damaged-'))).toBe(true);
    lines.length = 0;
    expect(await runWalCommand(['repair', '--data-dir', dir], (l) => lines.push(l))).toBe(0);
    expect(lines.join('\n')).toContain('intact');
  });

  it('refuses a bad command line', async () => {
    await expect(runWalCommand(['fix'], () => {})).rejects.toBeInstanceOf(UsageError);
    await expect(runWalCommand(['repair'], () => {})).rejects.toThrow(/--data-dir is required/);
    await expect(runWalCommand(['repair', '--data-dir', 'x', '--force'], () => {})).rejects.toBeInstanceOf(UsageError);
  });

  it('is wired into the raftwire command, and a member refuses to start on a corrupt WAL naming file and offset', async () => {
    const { dir, offsets } = await damagedDataDir();
    const r = spawnSync(process.execPath, [main, 'wal', 'repair', '--data-dir', dir], { encoding: 'utf8', timeout: 20_000 });
    expect(r.status).toBe(EXIT_WAL_DAMAGED);
    expect(r.stdout).toContain(`damage at byte offset ${offsets[1]}`);
    const m = spawnSync(
      process.execPath,
      [main, 'member', '--id', '1', '--listen', 'http://127.0.0.1:1', '--api', 'http://127.0.0.1:2', '--insecure', '--data-dir', dir],
      { encoding: 'utf8', timeout: 20_000 },
    );
    expect(m.status).toBe(1);
    expect(m.stdout + m.stderr).toContain(`corrupt at byte offset ${offsets[1]}`);
    expect(m.stdout + m.stderr).toContain(join(dir, 'wal.log'));
  });
});
