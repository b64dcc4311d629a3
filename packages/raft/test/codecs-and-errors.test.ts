import { createEntry, ErrorCode, isRaftwireError } from '@raftwire/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeConfChange, encodeConfChange } from '../src/conf-change.js';
import { decodeNodeSnapshot, decodeProposal, encodeNodeSnapshot, encodeProposal, ProposalCodec } from '../src/driver-codec.js';
import { decodeKvCommand, encodeKvCommand, KvStateMachine } from '../src/kv.js';
import { decodeSnapshotFile, encodeSnapshotFile } from '../src/node/snapshot-store.js';
import { RaftNode } from '../src/raft-node.js';
import { MemoryStorage } from '../src/storage.js';

const code = (c: string) => (e: unknown) => isRaftwireError(e) && e.code === c;

describe('key-value state machine', () => {
  it('round-trips commands and snapshots', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.string(), fc.uint8Array(), fc.boolean()), { maxLength: 30 }), (ops) => {
        const a = new KvStateMachine();
        for (const [key, value, del] of ops) {
          const cmd = del ? ({ op: 'delete', key } as const) : ({ op: 'put', key, value } as const);
          expect(decodeKvCommand(encodeKvCommand(cmd))).toEqual(cmd);
          a.apply(encodeKvCommand(cmd));
        }
        const b = new KvStateMachine();
        b.restore(a.snapshot());
        expect(b.keys()).toEqual(a.keys());
        for (const k of a.keys()) expect(b.get(k)).toEqual(a.get(k));
        expect(b.snapshot()).toEqual(a.snapshot());
      }),
    );
  });

  it('encodes keys of any length and alphabet to the same bytes as the UTF-8 encoder (short ASCII keys are written directly)', () => {
    const reference = (op: number, key: string, value: Uint8Array): Uint8Array => {
      const k = new TextEncoder().encode(key);
      const out = new Uint8Array(5 + k.length + value.length);
      out[0] = op;
      new DataView(out.buffer).setUint32(1, k.length);
      out.set(k, 5);
      out.set(value, 5 + k.length);
      return out;
    };
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 100 }), fc.uint8Array({ maxLength: 200 }), (key, value) => {
        expect(encodeKvCommand({ op: 'put', key, value })).toEqual(reference(1, key, value));
        expect(encodeKvCommand({ op: 'delete', key })).toEqual(reference(2, key, new Uint8Array(0)));
      }),
    );
    for (const key of ['', 'k1', '\x7f', '\x80', 'a'.repeat(64), 'b'.repeat(65), `${'a'.repeat(63)}é`, '鍵']) {
      expect(encodeKvCommand({ op: 'put', key, value: Uint8Array.of(7) })).toEqual(reference(1, key, Uint8Array.of(7)));
    }
  });

  it('decodes keys of any length and alphabet the same as the UTF-8 decoder, and refuses keys that are not UTF-8', () => {
    // Short ASCII keys take a fast path; long or non-ASCII ones the strict decoder.
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 100 }), fc.uint8Array({ maxLength: 8 }), (key, value) => {
        expect(decodeKvCommand(encodeKvCommand({ op: 'put', key, value }))).toEqual({ op: 'put', key, value });
      }),
    );
    for (const key of ['', 'k1', '\x7f', 'a'.repeat(64), 'b'.repeat(65), 'é', `${'a'.repeat(63)}é`, '鍵']) {
      expect(decodeKvCommand(encodeKvCommand({ op: 'delete', key }))).toEqual({ op: 'delete', key });
    }
    for (const keyBytes of [[0x61, 0xff], [0xc3], [0x61, 0x80, 0x62], Array(70).fill(0xff)]) {
      const bad = new Uint8Array(5 + keyBytes.length);
      bad[0] = 2; // delete
      new DataView(bad.buffer).setUint32(1, keyBytes.length);
      bad.set(keyBytes, 5);
      expect(() => decodeKvCommand(bad)).toThrow(expect.objectContaining({ code: ErrorCode.CORRUPT }));
    }
  });

  it('keeps every value intact through overwrites, deletes and restores, and never changes a value it handed out', () => {
    // Values share slabs, and sparse slabs have their values moved: checked against a plain Map.
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 1500 }), fc.boolean(), fc.boolean()), {
          maxLength: 400,
        }),
        (ops) => {
          let kv = new KvStateMachine();
          const model = new Map<string, Uint8Array>();
          const handedOut: [Uint8Array, Uint8Array][] = [];
          let n = 0;
          for (const [k, size, del, restore] of ops) {
            const key = `key${k}`;
            if (del) {
              kv.apply(encodeKvCommand({ op: 'delete', key }));
              model.delete(key);
            } else {
              const value = new Uint8Array(size).map((_, i) => (n * 31 + i) & 0xff);
              n++;
              const r = kv.apply(encodeKvCommand({ op: 'put', key, value }));
              expect(r.prev).toEqual(model.get(key) ?? null);
              model.set(key, value);
            }
            const got = kv.get(key);
            if (got) handedOut.push([got, got.slice()]);
            if (restore) {
              const next = new KvStateMachine();
              next.restore(kv.snapshot());
              kv = next;
            }
          }
          expect(kv.keys()).toEqual([...model.keys()].sort());
          for (const [k, v] of model) expect(kv.get(k)).toEqual(v);
          for (const [view, copy] of handedOut) expect(view).toEqual(copy);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('holds at most 4 x the live bytes of small values in slabs, plus the slab being filled', () => {
    const kv = new KvStateMachine();
    const value = new Uint8Array(100).fill(1);
    // 1 000 keys put once (two slabs), then all but every 50th put 99 times more and finally
    // deleted: the first two slabs keep 20 live values, which must move for the bound to hold.
    for (let i = 0; i < 1000; i++) kv.apply(encodeKvCommand({ op: 'put', key: `k${i}`, value }));
    for (let r = 0; r < 99; r++) {
      for (let i = 0; i < 1000; i++) if (i % 50 !== 0) kv.apply(encodeKvCommand({ op: 'put', key: `k${i}`, value }));
    }
    for (let i = 0; i < 1000; i++) if (i % 50 !== 0) kv.apply(encodeKvCommand({ op: 'delete', key: `k${i}` }));
    expect(kv.size).toBe(20);
    expect(kv.slabBytes).toBeLessThanOrEqual(4 * 20 * 100 + 64 * 1024);
    for (let i = 0; i < 1000; i += 50) expect(kv.get(`k${i}`)).toEqual(value);
  });

  it('returns the previous value and deletes', () => {
    const kv = new KvStateMachine();
    expect(kv.apply(encodeKvCommand({ op: 'put', key: 'a', value: new Uint8Array([1]) }))).toEqual({ prev: null });
    expect(kv.apply(encodeKvCommand({ op: 'put', key: 'a', value: new Uint8Array([2]) }))).toEqual({ prev: new Uint8Array([1]) });
    expect(kv.apply(encodeKvCommand({ op: 'delete', key: 'a' }))).toEqual({ prev: new Uint8Array([2]) });
    expect(kv.get('a')).toBeUndefined();
  });

  it('rejects malformed bytes with ERR_CORRUPT and bad input with ERR_INVALID_ARGUMENT', () => {
    for (const bad of [new Uint8Array([1, 0, 0]), new Uint8Array([9, 0, 0, 0, 0]), new Uint8Array([1, 255, 255, 255, 255, 1])]) {
      let err: unknown;
      try {
        decodeKvCommand(bad);
      } catch (e) {
        err = e;
      }
      expect(code(ErrorCode.CORRUPT)(err)).toBe(true);
    }
    const kv = new KvStateMachine();
    expect(() => kv.restore(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]))).toThrow(expect.objectContaining({ code: ErrorCode.CORRUPT }));
    const good = new KvStateMachine();
    good.apply(encodeKvCommand({ op: 'put', key: 'k', value: new Uint8Array([1, 2]) }));
    const snap = good.snapshot();
    expect(() => kv.restore(snap.subarray(0, snap.length - 1))).toThrow(expect.objectContaining({ code: ErrorCode.CORRUPT }));
    expect(() => encodeKvCommand({ op: 'put', key: 'k', value: 'v' as unknown as Uint8Array })).toThrow(
      expect.objectContaining({ code: ErrorCode.INVALID_ARGUMENT }),
    );
    expect(() => encodeKvCommand({ op: 'nope' } as never)).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_ARGUMENT }));
  });
});

describe('driver and storage codecs', () => {
  it('round-trip conf changes, proposals, node snapshots and snapshot files', () => {
    const cc = { type: 1 as const, nodeId: (1n << 64n) - 1n, context: new Uint8Array([1, 2, 3]) };
    expect(decodeConfChange(encodeConfChange(cc))).toEqual(cc);
    const pid = { proposer: 7n, incarnation: 0xdeadbeef, seq: 42 };
    expect(decodeProposal(encodeProposal(pid, new Uint8Array([9])))).toEqual({ ...pid, payload: new Uint8Array([9]) });
    expect(decodeProposal(new Uint8Array(0))).toBeNull();
    // The hot-path codec writes the same bytes and recognises only its own life's proposals.
    const mine = new ProposalCodec(pid.proposer, pid.incarnation);
    for (const seq of [0, 1, 42, 0xffff_ffff, 0x1_0000_0000, 2 ** 53 - 1]) {
      const payload = new Uint8Array([seq & 0xff, 1, 2]);
      const b = mine.encode(seq, payload);
      expect(b).toEqual(encodeProposal({ ...pid, seq }, payload));
      expect(mine.mineSeq(b)).toBe(seq);
      expect(new ProposalCodec(8n, pid.incarnation).mineSeq(b)).toBe(-1);
      expect(new ProposalCodec(pid.proposer, pid.incarnation + 1).mineSeq(b)).toBe(-1);
      expect(
        new ProposalCodec((1n << 64n) - 1n, 0).mineSeq(encodeProposal({ proposer: (1n << 64n) - 1n, incarnation: 0, seq }, payload)),
      ).toBe(seq);
    }
    const other = encodeProposal(pid, new Uint8Array([9]));
    other[0] = 2; // another version
    expect(mine.mineSeq(other)).toBe(-1);
    expect(mine.mineSeq(new Uint8Array(20))).toBe(-1);
    const ns = { members: new Map([[1n, 'http://127.0.0.1:1']]), removed: new Set([5n]), state: new Uint8Array([4]) };
    expect(decodeNodeSnapshot(encodeNodeSnapshot(ns))).toEqual(ns);
    const s = {
      data: new Uint8Array([1, 2]),
      metadata: {
        index: 9,
        term: 3,
        confState: { voters: [1n, 2n], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false },
      },
    };
    expect(decodeSnapshotFile(encodeSnapshotFile(s))).toEqual(s);
  });

  it('reject malformed input with typed errors', () => {
    expect(() => decodeConfChange(new Uint8Array([7]))).toThrow(expect.objectContaining({ code: ErrorCode.CORRUPT }));
    expect(() => encodeConfChange({ type: 0, nodeId: 0n, context: new Uint8Array(0) })).toThrow(
      expect.objectContaining({ code: ErrorCode.INVALID_ARGUMENT }),
    );
    expect(() => decodeNodeSnapshot(new Uint8Array(4))).toThrow(expect.objectContaining({ code: ErrorCode.CORRUPT }));
    const file = encodeSnapshotFile({
      data: new Uint8Array([1]),
      metadata: { index: 1, term: 1, confState: { voters: [], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false } },
    });
    file[file.length - 1] = (file[file.length - 1] as number) ^ 1;
    expect(() => decodeSnapshotFile(file)).toThrow(expect.objectContaining({ code: ErrorCode.CORRUPT }));
  });

  it('MemoryStorage reports compacted and unavailable ranges', () => {
    const s = new MemoryStorage();
    s.append([1, 2, 3, 4].map((i) => createEntry({ index: i, term: 1 })));
    s.createSnapshot(2, { voters: [1n], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false }, new Uint8Array(0));
    s.compact(2);
    expect(() => s.entries(1, 3)).toThrow(expect.objectContaining({ code: ErrorCode.COMPACTED }));
    expect(() => s.entries(3, 9)).toThrow(expect.objectContaining({ code: ErrorCode.UNAVAILABLE }));
    expect(() => s.term(1)).toThrow(expect.objectContaining({ code: ErrorCode.COMPACTED }));
    expect(s.term(2)).toBe(1);
    expect(s.entries(3, 5).map((e) => e.index)).toEqual([3, 4]);
    expect(() =>
      s.applySnapshot({ data: new Uint8Array(0), metadata: { index: 1, term: 1, confState: s.snapshot().metadata.confState } }),
    ).toThrow(expect.objectContaining({ code: ErrorCode.SNAP_OUT_OF_DATE }));
  });

  it('RaftNode validates its inputs', async () => {
    expect(() => new RaftNode({ id: 0n, storage: new MemoryStorage() })).toThrow(
      expect.objectContaining({ code: ErrorCode.INVALID_ARGUMENT }),
    );
    expect(() => new RaftNode({ id: 1n, storage: new MemoryStorage(), peers: [{ id: 2n, url: 'http://127.0.0.1:2' }] })).toThrow(
      expect.objectContaining({ code: ErrorCode.INVALID_ARGUMENT }),
    );
    const n = new RaftNode({ id: 1n, storage: new MemoryStorage() });
    await expect(n.propose(new Uint8Array(1))).rejects.toSatisfy((e: unknown) => (e as { code?: string }).code === 'ERR_NOT_STARTED');
    await expect(n.addMember(0n, 'http://127.0.0.1:1')).rejects.toSatisfy(code(ErrorCode.INVALID_ARGUMENT));
    await expect(n.removeMember(9n)).rejects.toSatisfy(code(ErrorCode.MEMBER_NOT_FOUND));
  });
});
