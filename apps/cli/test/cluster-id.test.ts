import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Link } from '@raftwire/core';
import { afterAll, describe, expect, it } from 'vitest';
import { ClusterIdError, deriveClusterId, resolveClusterId } from '../src/cluster-id.js';
import { createLogger } from '../src/log.js';
import { freePort, type MemberProcess, spawnMember, waitFor } from './member-process.js';

const dirs: string[] = [];
const procs: MemberProcess[] = [];
afterAll(async () => {
  for (const p of procs) if (p.exit === null) p.child.kill('SIGKILL');
  await Promise.all(procs.map((p) => p.exited));
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'rw-cid-'));
  dirs.push(d);
  return d;
};
const members = [
  { id: 1n, url: 'http://127.0.0.1:2380' },
  { id: 2n, url: 'http://127.0.0.1:2382' },
  { id: 3n, url: 'http://127.0.0.1:2384' },
];
const noLink = {} as Link; // never used: nothing here joins
const logger = createLogger({ level: 'silent', format: 'text' });

describe('cluster IDs', () => {
  it('derive from the initial members and the token, in any order, never the old constant', () => {
    const a = deriveClusterId(members, 'raftwire-cluster');
    expect(deriveClusterId([...members].reverse(), 'raftwire-cluster')).toBe(a);
    expect(deriveClusterId(members, 'other')).not.toBe(a);
    expect(
      deriveClusterId([members[0], members[1], { id: 3n, url: 'http://127.0.0.1:2386' }] as typeof members, 'raftwire-cluster'),
    ).not.toBe(a);
    expect(a).not.toBe(0x7261667477697265n);
  });

  it('are recorded in the data dir, and a command line meaning another cluster is refused', async () => {
    const dataDir = tmp();
    const base = {
      explicit: null,
      dataDir,
      join: false,
      self: members[0] as (typeof members)[0],
      peers: members.slice(1),
      link: noLink,
      logger,
    };
    const first = await resolveClusterId({ ...base, token: 't1', signal: AbortSignal.timeout(5000) });
    expect(first.clusterId).toBe(deriveClusterId(members, 't1'));
    expect(JSON.parse(readFileSync(join(dataDir, 'cluster-id.json'), 'utf8'))).toEqual({ clusterId: first.clusterId.toString(16) });
    // A restart keeps it even when the peers it was started with have changed since.
    const again = await resolveClusterId({ ...base, peers: members.slice(1, 2), token: 't1', signal: AbortSignal.timeout(5000) });
    expect(again).toEqual({ clusterId: first.clusterId, source: 'cluster-id.json' });
    await expect(resolveClusterId({ ...base, explicit: 0x99n, token: 't1', signal: AbortSignal.timeout(5000) })).rejects.toThrow(
      ClusterIdError,
    );
    await expect(resolveClusterId({ ...base, explicit: 0x99n, token: 't1', signal: AbortSignal.timeout(5000) })).rejects.toThrow(
      /the data dir belongs to cluster .* but this command line means cluster 99 \(--cluster-id\)/,
    );
  });

  it('members started with different tokens refuse each other (cluster ID mismatch, no leader)', async () => {
    const [p1, p2, a1, a2] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
    const url = (p: number) => `http://127.0.0.1:${p}`;
    const m1 = spawnMember({
      id: '1',
      peerUrl: url(p1),
      apiUrl: url(a1),
      extra: ['--peer', `2=${url(p2)}`, '--initial-cluster-token', 'left', '--tick-ms', '20'],
    });
    const m2 = spawnMember({
      id: '2',
      peerUrl: url(p2),
      apiUrl: url(a2),
      extra: ['--peer', `1=${url(p1)}`, '--initial-cluster-token', 'right', '--tick-ms', '20'],
    });
    procs.push(m1, m2);
    await waitFor('a cluster ID mismatch to be logged', 30_000, async () =>
      [...m1.lines, ...m2.lines].some((l) => /cluster ID mismatch/.test(l)),
    );
    expect([...m1.lines, ...m2.lines].some((l) => / became leader at term /.test(l))).toBe(false);
  });
});
