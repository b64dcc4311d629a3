/**
 * DurableObjectRaftStorage against workerd's real Durable Object storage
 * (storage-worker.ts, bundled and run in workerd from node_modules).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { requireRuntime } from '../../../tools/runtimes.mjs';
import { api, freePort, waitFor } from '../../cli/test/member-process.js';
import { bundleWorker } from '../bundle.mjs';
import { startWorkerd, type WorkerdMember, writeWorkerdConfig } from './workerd-process.js';

let dir = '';
let w: WorkerdMember | undefined;

beforeAll(async () => {
  requireRuntime('workerd');
  dir = await mkdtemp(join(tmpdir(), 'raftwire-do-storage-'));
});

afterAll(async () => {
  if (w && w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGKILL');
  await w?.exited;
  if (dir) await rm(dir, { recursive: true, force: true });
});

it('keeps what was synced in one transaction, loses what was not, truncates, compacts, takes a snapshot, refuses a malformed record', async () => {
  const bundle = await bundleWorker(fileURLToPath(new URL('./storage-worker.ts', import.meta.url)), join(dir, 'storage-worker.js'));
  const port = await freePort();
  w = startWorkerd(writeWorkerdConfig(join(dir, 'workerd'), bundle, port, {}), port);
  const r = await waitFor('the storage worker', 30_000, async () => {
    if (w?.child.exitCode !== null) throw new Error(`workerd exited:\n${w?.lines.join('\n')}`);
    const res = await api(`${w.url}/`, { timeoutMs: 10_000 });
    return res.status === 200 ? res.body : null;
  });
  const snap0 = '0/0//';
  expect(r.empty).toEqual({ first: 1, last: 0, hs: '0/0/0', log: [], snap: snap0 });
  expect(r.synced).toEqual({ first: 1, last: 3, hs: '2/3/2', log: ['1:1:a', '2:1:b', '3:2:c'], snap: snap0 });
  expect(r.truncated).toEqual({ first: 1, last: 4, hs: '3/1/4', log: ['1:1:a', '2:1:b', '3:3:c2', '4:3:d'], snap: snap0 });
  expect(r.compacted).toEqual({ first: 4, last: 4, hs: '3/1/4', log: ['4:3:d'], snap: '3/3/1,2,3/state@3' });
  expect(r.keysAfterCompaction).toEqual(['raft/e/0000000000000004']);
  expect(r.snapshot).toEqual({ first: 11, last: 10, hs: '3/1/4', log: [], snap: '10/4/1,2,3/state@10' });
  expect(r.keysAfterSnapshot).toEqual([]);
  expect(r.many).toEqual({ first: 11, last: 310, at200: 'x189' });
  expect(r.corrupt).toMatch(/^ERR_CORRUPT: .*hard state record is malformed/);
}, 60_000);
