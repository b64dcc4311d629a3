import fc from 'fast-check';
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import {
  type ConfState,
  type Entry,
  ErrorCode,
  type EtcdHardState,
  MAX_LOG_POSITION,
  type Message,
  MessageType,
  type Snapshot,
  createMessage,
  createSnapshot,
  decodeEtcdConfState,
  decodeEtcdEntry,
  decodeEtcdHardState,
  decodeEtcdSnapshot,
  encodeEtcdConfState,
  encodeEtcdEntry,
  encodeEtcdHardState,
  encodeEtcdSnapshot,
  etcdMessageCodec,
  messagesEqual,
} from './src.js';
import { arbConfState, arbEntry, arbId, arbNum } from '../arbitraries.js';
import { concat, errorCode } from '../helpers.js';
import { arbEtcdMessage, arbEtcdSnapshot, normalized } from './arbitraries.js';
import { type LiveAddedMember, fixtureJson, fixtureLines, fixtureText, hex, hexId, pb, toHex } from './fixtures.js';

const PbMessage = pb.lookupType('raftpb.Message');
const PbEntry = pb.lookupType('raftpb.Entry');
const PbSnapshot = pb.lookupType('raftpb.Snapshot');
const PbConfState = pb.lookupType('raftpb.ConfState');
const PbHardState = pb.lookupType('raftpb.HardState');

const MAX_SAFE = Number.MAX_SAFE_INTEGER;
const MAX_U64 = (1n << 64n) - 1n;

// ---- protobufjs shapes: what gogoproto writes (every non-nullable field, nullable bytes only when non-empty)

/** uint64 for protobufjs without rounding: its LongBits take {low, high}. */
const u64 = (v: bigint) => ({ low: Number(v & 0xffffffffn) | 0, high: Number(v >> 32n) | 0, unsigned: true });
const optBytes = <K extends string>(k: K, b: Uint8Array) => (b.length ? { [k]: b } : {});

const pbConfState = (cs: ConfState) => ({
  voters: cs.voters.map(u64),
  learners: cs.learners.map(u64),
  voters_outgoing: cs.votersOutgoing.map(u64),
  learners_next: cs.learnersNext.map(u64),
  auto_leave: cs.autoLeave,
});
const pbEntry = (e: Entry) => ({ Type: e.type, Term: e.term, Index: e.index, ...optBytes('Data', e.data) });
const pbSnapshot = (s: Snapshot) => ({
  ...optBytes('data', s.data),
  metadata: { conf_state: pbConfState(s.metadata.confState), index: s.metadata.index, term: s.metadata.term },
});
const pbMessage = (m: Message) => ({
  type: m.type,
  to: u64(m.to),
  from: u64(m.from),
  term: m.term,
  logTerm: m.logTerm,
  index: m.index,
  entries: m.entries.map(pbEntry),
  commit: m.commit,
  snapshot: pbSnapshot(m.snapshot ?? createSnapshot()),
  reject: m.reject,
  rejectHint: m.rejectHint,
  ...optBytes('context', m.context),
});

// ---- protobufjs decoded objects back to the native model

type Obj = Record<string, unknown>;
const toObject = (t: protobuf.Type, bytes: Uint8Array): Obj => t.toObject(t.decode(bytes), { longs: String, defaults: true, arrays: true });
const num = (v: unknown) => Number(v as string);
const big = (v: unknown) => BigInt(v as string);
const bytesOf = (v: unknown) => (v instanceof Uint8Array ? new Uint8Array(v) : new Uint8Array(0));
const confStateOf = (o: Obj | null | undefined): ConfState => ({
  voters: ((o?.voters as string[] | undefined) ?? []).map(big),
  learners: ((o?.learners as string[] | undefined) ?? []).map(big),
  votersOutgoing: ((o?.voters_outgoing as string[] | undefined) ?? []).map(big),
  learnersNext: ((o?.learners_next as string[] | undefined) ?? []).map(big),
  autoLeave: o?.auto_leave === true,
});
const snapshotOf = (o: Obj): Snapshot => {
  const md = (o.metadata as Obj | null) ?? {};
  return {
    data: bytesOf(o.data),
    metadata: { confState: confStateOf(md.conf_state as Obj), index: num(md.index ?? 0), term: num(md.term ?? 0) },
  };
};
const entryOf = (o: Obj): Entry => ({ type: o.Type as 0, term: num(o.Term), index: num(o.Index), data: bytesOf(o.Data) });
const messageOf = (o: Obj): Message =>
  normalized(
    createMessage({
      type: o.type as MessageType,
      to: big(o.to),
      from: big(o.from),
      term: num(o.term),
      logTerm: num(o.logTerm),
      index: num(o.index),
      entries: (o.entries as Obj[]).map(entryOf),
      commit: num(o.commit),
      snapshot: o.snapshot ? snapshotOf(o.snapshot as Obj) : null,
      reject: o.reject === true,
      rejectHint: num(o.rejectHint),
      context: bytesOf(o.context),
    }),
  );

const codec = etcdMessageCodec;
const equalNormalized = (a: Message, b: Message) => messagesEqual(normalized(a), normalized(b));

describe('etcd raftpb message codec: frames captured from etcd 3.4.23', () => {
  interface Capture {
    linkHeartbeat?: { hex: string };
    raftHeartbeat?: { hex: string; from: string; to: string; term: number; commit: number };
    sample?: { t: number; type?: number; index?: number; logTerm?: number; term?: number; commit: number; hexHead: string }[];
  }
  const [stream, msgapp] = fixtureLines<Capture>('capture-output.jsonl');

  it('decodes the link heartbeat and a raft heartbeat of the message stream and re-encodes them byte for byte', () => {
    const link = hex(stream?.linkHeartbeat?.hex ?? '');
    const hb = stream?.raftHeartbeat;
    const raft = hex(hb?.hex ?? '');
    // the frames carry an 8-byte length first
    expect(codec.decode(link.subarray(8))).toEqual(createMessage({ type: MessageType.MsgHeartbeat }));
    const m = codec.decode(raft.subarray(8));
    expect(m).toEqual(
      createMessage({ type: MessageType.MsgHeartbeat, from: hexId(hb?.from ?? ''), to: hexId(hb?.to ?? ''), term: 2, commit: 209552 }),
    );
    expect(toHex(codec.encode(m))).toBe(toHex(raft.subarray(8)));
    expect(toHex(codec.encode(createMessage({ type: MessageType.MsgHeartbeat })))).toBe(toHex(link.subarray(8)));
  });

  it("writes a MsgApp's fixed fields exactly as the captured msgappv2 full frames begin", () => {
    const full = msgapp?.sample?.filter((s) => s.t === 2) ?? [];
    expect(full.length).toBe(2);
    for (const s of full) {
      const head = hex(s.hexHead);
      const size = Number(new DataView(head.buffer).getBigUint64(1));
      // the head stops at the first entry's tag: everything before it is determined by these fields
      const m = createMessage({
        type: MessageType.MsgApp,
        to: hexId('fab9fa5ccec0b4d'),
        from: hexId('f094913a5c38763'),
        term: s.term ?? 0,
        logTerm: s.logTerm ?? 0,
        index: s.index ?? 0,
        entries: [{ type: 0, term: 2, index: (s.index ?? 0) + 1, data: new Uint8Array(size) }],
      });
      expect(toHex(codec.encode(m).subarray(0, head.length - 9))).toBe(toHex(head.subarray(9)));
    }
  });

  it('decodes a minimal protobuf (absent fields, as protobufjs writes it) that etcd accepted', () => {
    // the probe log opens with the bytes of the MsgHeartbeat etcd answered 204
    const probe = /protobuf MsgHeartbeat bytes \(protobufjs\): ([0-9a-f]+)/.exec(fixtureText('probe-output.jsonl'));
    const m = codec.decode(hex(probe?.[1] ?? ''));
    expect(m).toEqual(createMessage({ type: MessageType.MsgHeartbeat, to: hexId('f094913a5c38763'), from: 0x42n, term: 1 }));
  });

  it('decodes and re-encodes, byte for byte, every message an etcd leader sent a newly added member', () => {
    const live = fixtureJson<LiveAddedMember>('live-added-member.json');
    const types = new Set<string>();
    for (const p of live.pipeline) {
      const bytes = hex(p.hex);
      const m = codec.decode(bytes);
      expect(MessageType[p.type as keyof typeof MessageType]).toBe(m.type);
      expect(m.to).toBe(hexId(live.addedMemberId));
      expect(toHex(codec.encode(m))).toBe(p.hex);
      types.add(p.type);
    }
    expect([...types].sort()).toEqual(['MsgApp', 'MsgHeartbeat']);
  });
});

describe('etcd raftpb message codec: gogoproto layout', () => {
  it('writes every non-nullable field of an all-zero message, and the empty snapshot', () => {
    expect(toHex(codec.encode(createMessage({ type: MessageType.MsgHup })))).toBe(
      '0800' + '1000' + '1800' + '2000' + '2800' + '3000' + '4000' + '4a0a' + '1208' + '0a022800' + '1000' + '1800' + '5000' + '5800',
    );
  });

  it('writes nullable bytes only when non-empty and keeps entries in field order', () => {
    const m = createMessage({
      type: MessageType.MsgApp,
      entries: [
        { type: 0, term: 1, index: 2, data: new Uint8Array(0) },
        { type: 1, term: 1, index: 3, data: Uint8Array.of(7) },
      ],
      context: Uint8Array.of(9),
    });
    const h = toHex(codec.encode(m));
    expect(h).toContain('3a06' + '0800' + '1001' + '1802'); // no Data field for an empty entry
    expect(h).toContain('3a09' + '0801' + '1001' + '1803' + '220107');
    expect(h.endsWith('5000' + '5800' + '620109')).toBe(true);
  });

  it('round-trips the largest values: IDs up to 2^64-1, terms and indexes up to MAX_LOG_POSITION (2^53 - 2^20)', () => {
    const m = createMessage({
      type: MessageType.MsgPreVoteResp,
      to: MAX_U64,
      from: (1n << 63n) + 1n,
      term: MAX_LOG_POSITION,
      logTerm: MAX_LOG_POSITION,
      index: MAX_LOG_POSITION,
      commit: MAX_LOG_POSITION,
      rejectHint: MAX_LOG_POSITION,
      reject: true,
      entries: [{ type: 2, term: MAX_LOG_POSITION, index: MAX_LOG_POSITION, data: Uint8Array.of(1) }],
      snapshot: {
        data: Uint8Array.of(1, 2),
        metadata: {
          index: MAX_LOG_POSITION,
          term: MAX_LOG_POSITION,
          confState: {
            voters: [MAX_U64, 0n, 1n],
            learners: [2n ** 53n],
            votersOutgoing: [2n ** 56n],
            learnersNext: [2n ** 63n - 1n],
            autoLeave: true,
          },
        },
      },
    });
    const bytes = codec.encode(m);
    expect(messagesEqual(codec.decode(bytes), m)).toBe(true);
    // a 2^64-1 ID is a 10-byte varint ending in 0x01
    expect(toHex(bytes)).toContain('10ffffffffffffffffff01');
  });

  it('refuses, on encode, what etcd 3.4 cannot carry: types 19–23, vote, responses', () => {
    for (const type of [19, 20, 21, 22, 23] as MessageType[]) {
      expect(errorCode(() => codec.encode(createMessage({ type })))).toBe(ErrorCode.INVALID_MESSAGE);
    }
    expect(errorCode(() => codec.encode(createMessage({ type: MessageType.MsgVote, vote: 1n })))).toBe(ErrorCode.INVALID_MESSAGE);
    expect(
      errorCode(() =>
        codec.encode(createMessage({ type: MessageType.MsgApp, responses: [createMessage({ type: MessageType.MsgHeartbeat })] })),
      ),
    ).toBe(ErrorCode.INVALID_MESSAGE);
  });

  it('refuses invalid values on encode with ERR_INVALID_MESSAGE', () => {
    const bad: Partial<Message>[] = [
      { term: -1 },
      { term: 1.5 },
      { index: MAX_SAFE + 1 },
      { commit: Number.NaN },
      { to: -1n },
      { from: MAX_U64 + 1n },
      { context: [1] as unknown as Uint8Array },
      { reject: 1 as unknown as boolean },
      { entries: [{ type: 3 as 0, term: 0, index: 0, data: new Uint8Array(0) }] },
      { entries: [null as unknown as Entry] },
      {
        snapshot: {
          data: new Uint8Array(0),
          metadata: {
            index: 0,
            term: 0,
            confState: { voters: [1 as unknown as bigint], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false },
          },
        },
      },
      { snapshot: { data: new Uint8Array(0), metadata: null as unknown as Snapshot['metadata'] } },
    ];
    for (const b of bad)
      expect(errorCode(() => codec.encode(createMessage({ type: MessageType.MsgApp, ...b })))).toBe(ErrorCode.INVALID_MESSAGE);
    expect(errorCode(() => codec.encode(null as unknown as Message))).toBe(ErrorCode.INVALID_MESSAGE);
  });
});

describe('etcd raftpb message codec: decoding', () => {
  const decode = (h: string) => codec.decode(hex(h));

  it('rejects a term or index of 2^53 or more instead of rounding it', () => {
    expect(decode(`0808${'20'}8080c0ffffffff0f`).term).toBe(MAX_LOG_POSITION); // 2^53-2^20
    for (const field of ['20', '28', '30', '40', '58']) {
      expect(errorCode(() => decode(`0808${field}8080808080808010`))).toBe(ErrorCode.DECODE); // 2^53
      // 2^53-1 is exact, but above the largest term or index accepted: its successor would not be
      expect(errorCode(() => decode(`0808${field}ffffffffffffff0f`))).toBe(ErrorCode.DECODE);
    }
    expect(errorCode(() => decode('3a09' + '108080808080808010'))).toBe(ErrorCode.DECODE); // an entry's term
  });

  it('reads IDs up to 2^64-1 and rejects wider varints', () => {
    expect(decode('0808' + '10ffffffffffffffffff01').to).toBe(MAX_U64);
    expect(errorCode(() => decode('0808' + '10ffffffffffffffffff02'))).toBe(ErrorCode.DECODE);
    expect(errorCode(() => decode('0808' + '10ffffffffffffffffffff01'))).toBe(ErrorCode.DECODE);
    // an overlong encoding of a small value is still valid protobuf
    expect(decode('0808' + '10818080808000').to).toBe(1n);
  });

  it('rejects unknown message and entry types', () => {
    expect(errorCode(() => decode('0813'))).toBe(ErrorCode.DECODE); // 19
    expect(errorCode(() => decode('08ffffffffffffffffff01'))).toBe(ErrorCode.DECODE); // -1 as an int32 enum
    expect(errorCode(() => decode('0803' + '3a02' + '0803'))).toBe(ErrorCode.DECODE); // entry type 3
  });

  it('skips unknown fields of every wire type, groups included', () => {
    const base = createMessage({ type: MessageType.MsgHeartbeat, to: 2n, from: 1n, term: 3 });
    const unknown = [
      '6805', // field 13 varint (etcd 3.6's vote)
      '7203aabbcc', // field 14 length-delimited
      'f9070102030405060708', // field 127 fixed64
      'fd0701020304', // field 127 fixed32
      'a3060801a406', // field 100 group holding a varint
      'a306ab060801ac06a406', // nested groups
    ];
    for (const u of unknown) {
      const bytes = hex(`${u}${toHex(codec.encode(base))}${u}`);
      expect(messagesEqual(codec.decode(bytes), base)).toBe(true);
    }
  });

  it('accepts packed ID lists and fields in any order', () => {
    // snapshot with metadata { conf_state { voters packed [1, 300] , auto_leave } , index 5 } ; then type
    const m = decode('4a0d' + '120b' + '0a07' + '0a03' + '01ac02' + '2801' + '1005' + '0807');
    expect(m.type).toBe(MessageType.MsgSnap);
    expect(m.snapshot?.metadata.confState.voters).toEqual([1n, 300n]);
    expect(m.snapshot?.metadata.confState.autoLeave).toBe(true);
    expect(m.snapshot?.metadata.index).toBe(5);
  });

  it('rejects malformed protobuf with ERR_DECODE only', () => {
    const bad = [
      '08', // truncated varint value
      '0880', // unterminated varint
      '3a05080110', // entry declares 5 bytes, 3 remain
      '3affffffff0f', // length far past the end
      '0008', // field number 0
      '0c', // end group with no start
      'a306', // unterminated group
      'a306ac06', // group ended by another field number
      '0e', // wire type 6
      '0f', // wire type 7
      'f90701', // truncated fixed64
      'fd07', // truncated fixed32
      '4a02' + '1205', // nested length past its parent
      `${'a306'.repeat(40)}${'a406'.repeat(40)}`, // groups nested too deep
    ];
    for (const b of bad)
      expect(
        errorCode(() => decode(b)),
        b,
      ).toBe(ErrorCode.DECODE);
    expect(errorCode(() => codec.decode('x' as unknown as Uint8Array))).toBe(ErrorCode.DECODE);
  });

  it('gives plain Uint8Array views for bytes even from a Buffer', () => {
    const m = createMessage({
      type: MessageType.MsgApp,
      entries: [{ type: 0, term: 1, index: 1, data: Uint8Array.of(1, 2, 3) }],
      context: Uint8Array.of(4),
    });
    const got = codec.decode(Buffer.from(codec.encode(m)));
    expect(got.entries[0]?.data.constructor).toBe(Uint8Array);
    expect(got.context.constructor).toBe(Uint8Array);
  });
});

describe('etcd raftpb message codec: properties', () => {
  it('round-trips arbitrary etcd messages (IDs past 2^53, zero fields, max values)', () => {
    fc.assert(
      fc.property(arbEtcdMessage, (m) => {
        expect(equalNormalized(codec.decode(codec.encode(m)), m)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('writes the same bytes as protobufjs given gogoproto presence, and protobufjs reads ours back', () => {
    fc.assert(
      fc.property(arbEtcdMessage, (m) => {
        const ours = codec.encode(m);
        const theirs = PbMessage.encode(PbMessage.fromObject(pbMessage(m))).finish();
        expect(toHex(ours)).toBe(toHex(theirs));
        expect(messagesEqual(messageOf(toObject(PbMessage, ours)), normalized(m))).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('reads what protobufjs writes with any presence: absent fields, empty bytes present, fields in any order, unknown fields', () => {
    const arbUnknown = fc.oneof(
      fc.tuple(fc.integer({ min: 13, max: 2 ** 20 }), fc.bigInt({ min: 0n, max: MAX_U64 })).map(([f, v]) => {
        const w = protobufWriter();
        w.uint32(f * 8).uint64(u64(v) as unknown as number);
        return w.finish();
      }),
      fc.tuple(fc.integer({ min: 13, max: 2 ** 20 }), fc.uint8Array({ maxLength: 20 })).map(([f, b]) => {
        const w = protobufWriter();
        w.uint32(f * 8 + 2).bytes(b);
        return w.finish();
      }),
    );
    fc.assert(
      fc.property(
        arbEtcdMessage,
        fc.array(fc.nat(), { minLength: 32, maxLength: 32 }),
        fc.array(arbUnknown, { maxLength: 4 }),
        (m, keys, unknowns) => {
          // one chunk per field (protobuf merges concatenated messages), entries keeping their order
          const full = pbMessage(m) as Record<string, unknown>;
          const chunks: { key: number; bytes: Uint8Array; entry: boolean }[] = [];
          let k = 0;
          for (const [name, value] of Object.entries(full)) {
            if (name === 'entries') {
              for (const e of value as unknown[])
                chunks.push({ key: keys[k++ % 32] as number, bytes: PbMessage.encode({ entries: [e] }).finish(), entry: true });
            } else if (!(m.snapshot === null && name === 'snapshot') && !(value === 0 || value === false)) {
              // zero scalars and an empty snapshot left out: absent means zero
              chunks.push({ key: keys[k++ % 32] as number, bytes: PbMessage.encode({ [name]: value }).finish(), entry: false });
            }
          }
          const entryKeys = chunks
            .filter((c) => c.entry)
            .map((c) => c.key)
            .sort((a, b) => a - b);
          let e = 0;
          for (const c of chunks) if (c.entry) c.key = entryKeys[e++] as number;
          chunks.sort((a, b) => a.key - b.key);
          const parts = chunks.map((c) => c.bytes);
          unknowns.forEach((u, i) => {
            parts.splice((keys[i] as number) % (parts.length + 1), 0, u);
          });
          const bytes = concat(parts);
          expect(messagesEqual(codec.decode(bytes), normalized(m))).toBe(true);
          expect(messagesEqual(messageOf(toObject(PbMessage, bytes)), normalized(m))).toBe(true);
        },
      ),
      { numRuns: 200 },
    );
  });
});

function protobufWriter(): protobuf.Writer {
  return protobuf.Writer.create();
}

describe('etcd raftpb: Entry, Snapshot, ConfState and HardState', () => {
  it('round-trip and match protobufjs byte for byte', () => {
    fc.assert(
      fc.property(arbEntry, arbEtcdSnapshot, arbConfState, fc.record({ term: arbNum, vote: arbId, commit: arbNum }), (e, s, cs, hs) => {
        const eb = encodeEtcdEntry(e);
        expect(toHex(eb)).toBe(toHex(PbEntry.encode(PbEntry.fromObject(pbEntry(e))).finish()));
        expect(decodeEtcdEntry(eb)).toEqual(e);
        const snap = s ?? createSnapshot();
        const sb = encodeEtcdSnapshot(snap);
        expect(toHex(sb)).toBe(toHex(PbSnapshot.encode(PbSnapshot.fromObject(pbSnapshot(snap))).finish()));
        expect(decodeEtcdSnapshot(sb)).toEqual(snap);
        const cb = encodeEtcdConfState(cs);
        expect(toHex(cb)).toBe(toHex(PbConfState.encode(PbConfState.fromObject(pbConfState(cs))).finish()));
        expect(decodeEtcdConfState(cb)).toEqual(cs);
        const hb = encodeEtcdHardState(hs);
        expect(toHex(hb)).toBe(
          toHex(PbHardState.encode(PbHardState.fromObject({ term: hs.term, vote: u64(hs.vote), commit: hs.commit })).finish()),
        );
        expect(decodeEtcdHardState(hb)).toEqual(hs);
      }),
      { numRuns: 300 },
    );
  });

  it('decode an empty input as all zero, and reject bad values with typed errors', () => {
    expect(decodeEtcdHardState(new Uint8Array(0))).toEqual({ term: 0, vote: 0n, commit: 0 });
    expect(decodeEtcdSnapshot(new Uint8Array(0))).toEqual(createSnapshot());
    expect(errorCode(() => decodeEtcdHardState(hex('088080808080808010')))).toBe(ErrorCode.DECODE);
    expect(errorCode(() => decodeEtcdEntry(hex('0803')))).toBe(ErrorCode.DECODE);
    expect(errorCode(() => encodeEtcdHardState({ term: -1, vote: 0n, commit: 0 }))).toBe(ErrorCode.INVALID_MESSAGE);
    expect(errorCode(() => encodeEtcdHardState(null as unknown as EtcdHardState))).toBe(ErrorCode.INVALID_MESSAGE);
    expect(errorCode(() => encodeEtcdConfState({ ...createSnapshot().metadata.confState, autoLeave: 0 as unknown as boolean }))).toBe(
      ErrorCode.INVALID_MESSAGE,
    );
  });
});
