import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorCode, isRaftwireError } from '@raftwire/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { crc32 } from '../src/crc32.js';
import { FileStorage } from '../src/node/file-storage.js';
import { decodeSnapshotFile, encodeSnapshotFile } from '../src/node/snapshot-store.js';
import { encodeWalRecordV1, inspectWalBytes, WalCorruptionError } from '../src/node/wal-record.js';
import { repairWal } from '../src/node/wal-repair.js';
import { ent, observe, writeHistory } from './helpers/wal-history.js';

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'raftwire-walfmt-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

/** A version 1 WAL (no file header; records of payload length and payload CRC only). */
function v1Wal(): Uint8Array {
  const recs = [
    encodeWalRecordV1({ snapshot: null, hardState: { term: 1, vote: 1n, commit: 0 }, entries: [ent(1, 1), ent(2, 1)] }),
    encodeWalRecordV1({ snapshot: null, hardState: { term: 1, vote: 1n, commit: 2 }, entries: [ent(3, 1)] }),
  ];
  return new Uint8Array(Buffer.concat(recs));
}

const flip = (b: Uint8Array, at: number): Uint8Array => {
  const c = Uint8Array.from(b);
  c[at] = (c[at] as number) ^ 0x10;
  return c;
};

describe('WAL format versions', () => {
  it('reads an intact version 1 WAL and rewrites it in the current format', async () => {
    const dir = join(root, 'v1');
    await rm(dir, { recursive: true, force: true });
    await FileStorage.open(dir).then((s) => s.close());
    await writeFile(join(dir, 'wal.log'), v1Wal());
    const s = await FileStorage.open(dir);
    expect(s.recovery.upgraded).toBe(true);
    expect(s.lastIndex()).toBe(3);
    expect(s.initialState().hardState).toEqual({ term: 1, vote: 1n, commit: 2 });
    s.append([ent(4, 1)]);
    await s.sync();
    await s.close();
    expect(inspectWalBytes(await readFile(join(dir, 'wal.log'))).version).toBe(2);
    const r = await FileStorage.open(dir);
    expect(r.recovery.upgraded).toBe(false);
    expect(r.lastIndex()).toBe(4);
    await r.close();
  });

  it('refuses a damaged version 1 WAL (it cannot tell a torn tail from a corrupted length), even at its last record', async () => {
    const bytes = v1Wal();
    for (const at of [0, 5, bytes.length - 1]) {
      const dir = join(root, `v1-bad-${at}`);
      await FileStorage.open(dir).then((s) => s.close());
      await writeFile(join(dir, 'wal.log'), flip(bytes, at));
      const err = await FileStorage.open(dir).then(
        () => null,
        (e: unknown) => e,
      );
      expect(isRaftwireError(err, ErrorCode.CORRUPT)).toBe(true);
      expect((err as Error).message).toContain('version 1 format');
      expect((err as Error).message).toContain('raftwire wal repair');
    }
  });

  it('refuses a WAL of an unknown version with a message that says so', async () => {
    const dir = join(root, 'v9');
    await FileStorage.open(dir).then((s) => s.close());
    const b = Uint8Array.from(await readFile(join(dir, 'wal.log')));
    b[4] = 9;
    await writeFile(join(dir, 'wal.log'), b);
    await expect(FileStorage.open(dir)).rejects.toThrow(/unknown WAL version 9/);
  });
});

describe('WAL repair', () => {
  it('only examines unless told to truncate; then keeps the intact prefix, backs the file up, and the WAL opens', async () => {
    const dir = join(root, 'repair');
    const { states, sizes } = await writeHistory(dir);
    const original = await readFile(join(dir, 'wal.log'));
    const damagedAt = (sizes[3] as number) + 2; // inside the fourth record's header, with records after it
    const damaged = flip(original, damagedAt);
    await writeFile(join(dir, 'wal.log'), damaged);
    await expect(FileStorage.open(dir)).rejects.toBeInstanceOf(WalCorruptionError);

    const look = await repairWal(dir);
    expect(look).toMatchObject({ version: 2, records: 3, validBytes: sizes[3], truncated: false, backup: null });
    expect(look.damage).toMatchObject({ offset: sizes[3], torn: false });
    expect(Buffer.compare(await readFile(join(dir, 'wal.log')), damaged)).toBe(0);

    const done = await repairWal(dir, { truncate: true });
    expect(done.truncated).toBe(true);
    expect(done.backup).not.toBeNull();
    expect(Buffer.compare(await readFile(done.backup as string), damaged)).toBe(0);
    expect((await readFile(join(dir, 'wal.log'))).length).toBe(sizes[3]);
    const s = await FileStorage.open(dir);
    expect(observe(s)).toEqual(states[3]);
    await s.close();
    expect((await repairWal(dir)).damage).toBeNull();
    expect((await readdir(dir)).filter((f) => f.startsWith('wal.log.damaged-'))).toHaveLength(1);
  });

  it('cuts a damaged version 1 WAL to its intact records, which then open and are upgraded', async () => {
    const dir = join(root, 'repair-v1');
    await FileStorage.open(dir).then((s) => s.close());
    const bytes = v1Wal();
    await writeFile(join(dir, 'wal.log'), flip(bytes, bytes.length - 1));
    const r = await repairWal(dir, { truncate: true });
    expect(r).toMatchObject({ version: 1, records: 1, truncated: true });
    const s = await FileStorage.open(dir);
    expect(s.recovery.upgraded).toBe(true);
    expect(s.lastIndex()).toBe(2);
    await s.close();
  });
});

describe('snapshot files', () => {
  const cs = (learners: bigint[]) => ({ voters: [1n, 2n, 3n], learners, votersOutgoing: [], learnersNext: [], autoLeave: false });

  it('keep learners (a restarted member would otherwise count a learner as a voter or forget it)', () => {
    const snap = { data: new Uint8Array([7, 8]), metadata: { index: 9, term: 2, confState: cs([4n, 5n]) } };
    const back = decodeSnapshotFile(encodeSnapshotFile(snap));
    expect(back.metadata.confState.voters).toEqual([1n, 2n, 3n]);
    expect(back.metadata.confState.learners).toEqual([4n, 5n]);
    expect([...back.data]).toEqual([7, 8]);
  });

  it('still read the version 1 layout (voters only)', () => {
    const v2 = encodeSnapshotFile({ data: new Uint8Array([7]), metadata: { index: 9, term: 2, confState: cs([]) } });
    // Version 1: the same without the learner count; magic "RWS1".
    const body = Uint8Array.from([...v2.subarray(8, 8 + 20 + 3 * 8), 7]);
    const v1 = new Uint8Array(8 + body.length);
    const dv = new DataView(v1.buffer);
    dv.setUint32(0, 0x52575331, true);
    dv.setUint32(4, crc32(body), true);
    v1.set(body, 8);
    const back = decodeSnapshotFile(v1);
    expect(back.metadata.confState).toMatchObject({ voters: [1n, 2n, 3n], learners: [] });
    expect([...back.data]).toEqual([7]);
  });
});
