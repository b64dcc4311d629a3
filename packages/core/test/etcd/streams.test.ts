import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ByteWriter } from '../../src/bytes.js';
import {
  ErrorCode,
  EtcdFrameDecoder,
  EtcdMessageStreamDecoder,
  EtcdMessageStreamEncoder,
  EtcdMsgAppDecoder,
  EtcdMsgAppEncoder,
  LINK_HEARTBEAT,
  type Message,
  MessageType,
  MsgAppFrame,
  createMessage,
  encodeEtcdEntry,
  encodeEtcdFrame,
  messagesEqual,
} from './src.js';
import { concat, errorCode, expectNoHeapGrowth, splitAt } from '../helpers.js';
import { arbEtcdMessage, normalized } from './arbitraries.js';
import { type LiveStreams, fixtureJson, fixtureLines, hex, hexId, toHex } from './fixtures.js';

const live = fixtureJson<LiveStreams>('live-streams.json');
const livePeers = { from: hexId(live.leader), to: hexId(live.follower) };
const peers = { from: 1n, to: 2n };
const app = (init: Partial<Message>) => createMessage({ type: MessageType.MsgApp, from: 1n, to: 2n, ...init });
const ent = (term: number, index: number, data: number[] = [index]) => ({ type: 0 as const, term, index, data: Uint8Array.from(data) });

/** Feeds `wire` to `push` one byte at a time. */
function byteByByte<T>(wire: Uint8Array, push: (c: Uint8Array) => T[]): T[] {
  const out: T[] = [];
  for (let i = 0; i < wire.length; i++) out.push(...push(wire.subarray(i, i + 1)));
  return out;
}

const u64 = (n: bigint) => {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, n);
  return b;
};

describe('etcd message stream (u64 BE length + raftpb)', () => {
  it('decodes the stream an etcd leader wrote and re-encodes it byte for byte, at any split', () => {
    const wire = hex(live.messageStream);
    const dec = new EtcdMessageStreamDecoder();
    const msgs = dec.push(wire);
    dec.end();
    expect(msgs.length).toBeGreaterThan(40);
    expect(msgs.filter((m) => m.from === 0n && m.type === MessageType.MsgHeartbeat).length).toBeGreaterThan(0);
    for (const m of msgs.filter((x) => x.from !== 0n)) {
      expect(m.from).toBe(livePeers.from);
      expect(m.to).toBe(livePeers.to);
    }
    const enc = new EtcdMessageStreamEncoder();
    expect(toHex(concat(msgs.map((m) => enc.encode(m))))).toBe(live.messageStream);
    const one = new EtcdMessageStreamDecoder();
    const again = byteByByte(wire, (c) => one.push(c));
    one.end();
    expect(again.length).toBe(msgs.length);
    again.forEach((m, i) => {
      expect(messagesEqual(m, msgs[i] as Message)).toBe(true);
    });
  });

  it('round-trips arbitrary messages split at arbitrary boundaries', () => {
    fc.assert(
      fc.property(fc.array(arbEtcdMessage, { maxLength: 6 }), fc.array(fc.nat(), { maxLength: 12 }), (msgs, cuts) => {
        const enc = new EtcdMessageStreamEncoder();
        const wire = concat(msgs.map((m) => enc.encode(m)));
        const batch = new ByteWriter(16);
        const enc2 = new EtcdMessageStreamEncoder();
        for (const m of msgs) enc2.encodeTo(m, batch);
        expect(toHex(batch.finish())).toBe(toHex(wire));
        const dec = new EtcdMessageStreamDecoder();
        const got = splitAt(
          wire,
          cuts.map((c) => c % (wire.length + 1)),
        ).flatMap((c) => dec.push(c));
        dec.end();
        expect(got.length).toBe(msgs.length);
        got.forEach((m, i) => {
          expect(messagesEqual(m, normalized(msgs[i] as Message))).toBe(true);
        });
      }),
      { numRuns: 200 },
    );
  });

  it('rejects a declared 2^63-byte frame at once, without allocating', () => {
    const dec = new EtcdMessageStreamDecoder();
    expect(expectNoHeapGrowth(() => errorCode(() => dec.push(u64(1n << 63n))))).toBe(ErrorCode.FRAME_TOO_LARGE);
    // and stays failed
    expect(errorCode(() => dec.push(new Uint8Array(1)))).toBe(ErrorCode.FRAME_TOO_LARGE);
  });

  it("caps frames at etcd's 512 MiB by default and lower when configured", () => {
    expect(errorCode(() => new EtcdMessageStreamDecoder().push(u64(512n * 1024n * 1024n + 1n)))).toBe(ErrorCode.FRAME_TOO_LARGE);
    expect(errorCode(() => new EtcdMessageStreamDecoder().push(u64(512n * 1024n * 1024n)))).toBeUndefined();
    expect(errorCode(() => new EtcdMessageStreamDecoder({ maxFrameBytes: 100 }).push(u64(101n)))).toBe(ErrorCode.FRAME_TOO_LARGE);
    expect(errorCode(() => new EtcdFrameDecoder({ maxFrameBytes: 100 }).push(u64(101n)))).toBe(ErrorCode.FRAME_TOO_LARGE);
  });

  it('holds only what arrived of a large frame that stalls, not what it declared', () => {
    const dec = new EtcdMessageStreamDecoder();
    expectNoHeapGrowth(() => {
      dec.push(u64(500n * 1024n * 1024n));
      dec.push(new Uint8Array(1000));
    });
    expect(errorCode(() => dec.end())).toBe(ErrorCode.TRUNCATED);
  });

  it('frames payloads and splits them back (EtcdFrameDecoder)', () => {
    const payloads = [new Uint8Array(0), Uint8Array.of(1), new Uint8Array(70_000).fill(7)];
    const wire = concat(payloads.map(encodeEtcdFrame));
    expect(toHex(wire.subarray(0, 9))).toBe('0000000000000000' + '00');
    const dec = new EtcdFrameDecoder();
    const got = splitAt(wire, [3, 9, 12, 20, 40_000, 60_000]).flatMap((c) => dec.push(c));
    dec.end();
    expect(got.map((g) => g.length)).toEqual([0, 1, 70_000]);
    expect(got[2]?.every((b) => b === 7)).toBe(true);
    const partial = new EtcdFrameDecoder();
    partial.push(wire.subarray(0, 4));
    expect(errorCode(() => partial.end())).toBe(ErrorCode.TRUNCATED);
  });

  it('refuses to encode what etcd 3.4 cannot carry, and a malformed body fails the stream with ERR_DECODE', () => {
    expect(errorCode(() => new EtcdMessageStreamEncoder().encode(createMessage({ type: MessageType.MsgForgetLeader })))).toBe(
      ErrorCode.INVALID_MESSAGE,
    );
    const dec = new EtcdMessageStreamDecoder();
    expect(errorCode(() => dec.push(concat([u64(2n), Uint8Array.of(0x08, 0x80)])))).toBe(ErrorCode.DECODE);
    expect(errorCode(() => dec.end())).toBe(ErrorCode.DECODE);
  });
});

/** etcd's TestMsgAppV2 walk, with the frame each step must produce. */
const ETCD_SEQUENCE: [Message, number][] = [
  [LINK_HEARTBEAT, MsgAppFrame.LinkHeartbeat],
  // first MsgApp: state is (0, 0) and LogTerm 1 ≠ 0 → full
  [app({ term: 1, logTerm: 1, index: 0, entries: [ent(1, 1)], commit: 1 }), MsgAppFrame.Message],
  // consecutive → AppEntries, which carries the commit
  [app({ term: 1, logTerm: 1, index: 1, entries: [ent(1, 2)], commit: 2 }), MsgAppFrame.AppEntries],
  [LINK_HEARTBEAT, MsgAppFrame.LinkHeartbeat],
  [app({ term: 1, logTerm: 1, index: 2, entries: [ent(1, 3)], commit: 3 }), MsgAppFrame.AppEntries],
  // higher term → full
  [app({ term: 2, logTerm: 1, index: 3, entries: [ent(2, 4)], commit: 4 }), MsgAppFrame.Message],
  [LINK_HEARTBEAT, MsgAppFrame.LinkHeartbeat],
  // Term ≠ LogTerm → full
  [app({ term: 3, logTerm: 2, index: 4, entries: [ent(3, 5)], commit: 4 }), MsgAppFrame.Message],
  // empty MsgApp: LogTerm 4 ≠ state term 3 → full
  [app({ term: 4, logTerm: 4, index: 5, commit: 5 }), MsgAppFrame.Message],
  // consecutive empty MsgApp (a commit-only update) → AppEntries with no entries
  [app({ term: 4, logTerm: 4, index: 5, commit: 6 }), MsgAppFrame.AppEntries],
  [LINK_HEARTBEAT, MsgAppFrame.LinkHeartbeat],
];

describe('etcd msgappv2 stream', () => {
  it('decodes the msgapp stream an etcd leader wrote and re-encodes it byte for byte, one byte at a time too', () => {
    const wire = hex(live.msgappStream);
    const dec = new EtcdMsgAppDecoder(livePeers);
    const msgs = dec.push(wire);
    dec.end();
    const enc = new EtcdMsgAppEncoder(livePeers);
    const frames = msgs.map((m) => enc.encode(m));
    expect(toHex(concat(frames))).toBe(live.msgappStream);
    // all three frame kinds occur, AppEntries with entries among them
    const kinds = new Set(frames.map((f) => f[0]));
    expect([...kinds].sort()).toEqual([0, 1, 2]);
    expect(msgs.some((m, i) => frames[i]?.[0] === MsgAppFrame.AppEntries && m.entries.length > 0)).toBe(true);
    // entries carry their own index, consecutive from the message's index
    for (const m of msgs) {
      m.entries.forEach((e, i) => {
        expect(e.index).toBe(m.index + i + 1);
      });
    }
    const one = new EtcdMsgAppDecoder(livePeers);
    const again = byteByByte(wire, (c) => one.push(c));
    one.end();
    expect(again.length).toBe(msgs.length);
    again.forEach((m, i) => {
      expect(messagesEqual(m, msgs[i] as Message)).toBe(true);
    });
  });

  it('decodes the captured commit-only AppEntries frame and writes the same bytes in the same state', () => {
    const [, msgapp] = fixtureLines<{ sample?: { t: number; commit: number; hexHead: string }[] }>('capture-output.jsonl');
    const frame = msgapp?.sample?.find((s) => s.t === 1);
    expect(frame?.hexHead).toBe('0100000000000000000000000000033291');
    const got = new EtcdMsgAppDecoder(peers).push(hex(frame?.hexHead ?? ''));
    expect(got).toEqual([app({ commit: 209553 })]);
    expect(toHex(new EtcdMsgAppEncoder(peers).encode(got[0] as Message))).toBe(frame?.hexHead);
  });

  it("walks etcd's TestMsgAppV2 sequence: right frame each step, decoded equal to input", () => {
    const enc = new EtcdMsgAppEncoder(peers);
    const dec = new EtcdMsgAppDecoder(peers);
    for (const [m, frame] of ETCD_SEQUENCE) {
      const bytes = enc.encode(m);
      expect(bytes[0]).toBe(frame);
      const got = dec.push(bytes);
      expect(got).toHaveLength(1);
      expect(messagesEqual(got[0] as Message, m)).toBe(true);
    }
  });

  it('writes AppEntries exactly as etcd lays it out: u64 count, u64 size + protobuf Entry each, u64 commit', () => {
    const enc = new EtcdMsgAppEncoder(peers);
    enc.encode(app({ term: 5, logTerm: 5, index: 9, commit: 9 })); // full frame sets the state (5, 9)
    const e1 = ent(5, 10, [0xaa]);
    const e2 = ent(5, 11, []);
    const bytes = enc.encode(app({ term: 5, logTerm: 5, index: 9, entries: [e1, e2], commit: 10 }));
    const pe1 = encodeEtcdEntry(e1);
    const pe2 = encodeEtcdEntry(e2);
    expect(toHex(bytes)).toBe(
      '01' + toHex(u64(2n)) + toHex(u64(BigInt(pe1.length))) + toHex(pe1) + toHex(u64(BigInt(pe2.length))) + toHex(pe2) + toHex(u64(10n)),
    );
  });

  it('uses full frames for what AppEntries would lose: other From/To, extra fields', () => {
    const enc = new EtcdMsgAppEncoder(peers);
    enc.encode(app({ term: 1, logTerm: 1, index: 0, entries: [ent(1, 1)] }));
    expect(enc.encode(app({ term: 1, logTerm: 1, index: 1, from: 9n, entries: [ent(1, 2)] }))[0]).toBe(MsgAppFrame.Message);
    expect(enc.encode(app({ term: 1, logTerm: 1, index: 2, context: Uint8Array.of(1), entries: [ent(1, 3)] }))[0]).toBe(
      MsgAppFrame.Message,
    );
    expect(enc.encode(app({ term: 1, logTerm: 1, index: 3, reject: true }))[0]).toBe(MsgAppFrame.Message);
    // a look-alike of the link heartbeat keeps its fields
    expect(enc.encode(createMessage({ type: MessageType.MsgHeartbeat, term: 3 }))[0]).toBe(MsgAppFrame.Message);
  });

  it('round-trips realistic replication sequences split at any boundary', () => {
    const arbStep = fc.record({
      n: fc.nat({ max: 5 }),
      bumpTerm: fc.boolean(),
      gap: fc.boolean(),
      commit: fc.nat({ max: 100 }),
      size: fc.nat({ max: 300 }),
    });
    fc.assert(
      fc.property(fc.array(arbStep, { maxLength: 30 }), fc.array(fc.nat(), { maxLength: 20 }), (steps, cuts) => {
        let term = 1;
        let index = 0;
        const msgs: Message[] = [];
        for (const s of steps) {
          const logTerm = term;
          if (s.bumpTerm) term++;
          if (s.gap) index = Math.max(0, index - 1);
          const entries = Array.from({ length: s.n }, (_, i) => ({
            type: 0 as const,
            term,
            index: index + i + 1,
            data: new Uint8Array(s.size).fill(i),
          }));
          msgs.push(app({ term, logTerm, index, entries, commit: s.commit }));
          index += s.n;
          if (s.n % 2 === 0) msgs.push(LINK_HEARTBEAT);
        }
        const enc = new EtcdMsgAppEncoder(peers);
        const wire = concat(msgs.map((m) => enc.encode(m)));
        const batch = new ByteWriter(16);
        const enc2 = new EtcdMsgAppEncoder(peers);
        for (const m of msgs) enc2.encodeTo(m, batch);
        expect(toHex(batch.finish())).toBe(toHex(wire));
        const dec = new EtcdMsgAppDecoder(peers);
        const got = splitAt(
          wire,
          cuts.map((c) => c % (wire.length + 1)),
        ).flatMap((c) => dec.push(c));
        dec.end();
        expect(got.length).toBe(msgs.length);
        got.forEach((m, i) => {
          expect(messagesEqual(m, msgs[i] as Message)).toBe(true);
        });
      }),
      { numRuns: 200 },
    );
  });

  it('round-trips arbitrary etcd messages of any type', () => {
    fc.assert(
      fc.property(fc.array(arbEtcdMessage, { maxLength: 5 }), (msgs) => {
        const enc = new EtcdMsgAppEncoder(peers);
        const dec = new EtcdMsgAppDecoder(peers);
        const got = dec.push(concat(msgs.map((m) => enc.encode(m))));
        expect(got.length).toBe(msgs.length);
        got.forEach((m, i) => {
          expect(messagesEqual(m, normalized(msgs[i] as Message))).toBe(true);
        });
      }),
      { numRuns: 200 },
    );
  });

  it('keeps its state when it refuses a message', () => {
    const enc = new EtcdMsgAppEncoder(peers);
    enc.encode(app({ term: 2, logTerm: 2, index: 4 }));
    expect(errorCode(() => enc.encode(app({ term: 2, logTerm: 2, index: 4, entries: [{ ...ent(2, 5), term: -1 }] })))).toBe(
      ErrorCode.INVALID_MESSAGE,
    );
    expect(errorCode(() => enc.encode(createMessage({ type: MessageType.MsgStorageAppend })))).toBe(ErrorCode.INVALID_MESSAGE);
    expect(enc.encode(app({ term: 2, logTerm: 2, index: 4, entries: [ent(2, 5)] }))[0]).toBe(MsgAppFrame.AppEntries);
  });

  it('rejects a declared 2^63 entries at once, without allocating', () => {
    const dec = new EtcdMsgAppDecoder(peers);
    expect(expectNoHeapGrowth(() => errorCode(() => dec.push(concat([Uint8Array.of(1), u64(1n << 63n)]))))).toBe(
      ErrorCode.TOO_MANY_ENTRIES,
    );
    const capped = new EtcdMsgAppDecoder(peers, { maxEntries: 10 });
    expect(errorCode(() => capped.push(concat([Uint8Array.of(1), u64(11n)])))).toBe(ErrorCode.TOO_MANY_ENTRIES);
  });

  it('checks each entry size and the running frame size before taking the bytes', () => {
    const dec = new EtcdMsgAppDecoder(peers);
    expect(expectNoHeapGrowth(() => errorCode(() => dec.push(concat([Uint8Array.of(1), u64(1n), u64(1n << 40n)]))))).toBe(
      ErrorCode.ENTRY_TOO_LARGE,
    );
    const e16 = encodeEtcdEntry(ent(1, 1, [1, 2, 3, 4, 5, 6, 7, 8]));
    expect(e16.length).toBe(16);
    const small = new EtcdMsgAppDecoder(peers, { maxEntryBytes: 16, maxFrameBytes: 50 });
    expect(errorCode(() => small.push(concat([Uint8Array.of(1), u64(3n), u64(16n), e16])))).toBeUndefined();
    // 17 (type, count, commit) + 24 + 24 > 50: the second entry would take the frame over its cap
    expect(errorCode(() => small.push(u64(16n)))).toBe(ErrorCode.FRAME_TOO_LARGE);
    const full = new EtcdMsgAppDecoder(peers, { maxEntryBytes: 16 });
    const enc = new EtcdMsgAppEncoder(peers);
    expect(errorCode(() => full.push(enc.encode(app({ term: 3, logTerm: 2, entries: [ent(3, 1, new Array(17).fill(1))] }))))).toBe(
      ErrorCode.ENTRY_TOO_LARGE,
    );
    const fewer = new EtcdMsgAppDecoder(peers, { maxEntries: 1 });
    expect(errorCode(() => fewer.push(enc.encode(app({ term: 9, logTerm: 2, entries: [ent(9, 1), ent(9, 2)] }))))).toBe(
      ErrorCode.TOO_MANY_ENTRIES,
    );
    expect(errorCode(() => new EtcdMsgAppDecoder(peers).push(concat([Uint8Array.of(2), u64(1n << 62n)])))).toBe(ErrorCode.FRAME_TOO_LARGE);
  });

  it('rejects an unknown frame type, a bad entry, a commit past 2^53-1 and a truncated end', () => {
    expect(errorCode(() => new EtcdMsgAppDecoder(peers).push(Uint8Array.of(0x03)))).toBe(ErrorCode.DECODE);
    expect(
      errorCode(() => new EtcdMsgAppDecoder(peers).push(concat([Uint8Array.of(1), u64(1n), u64(2n), Uint8Array.of(0x08, 0x05)]))),
    ).toBe(ErrorCode.DECODE);
    expect(errorCode(() => new EtcdMsgAppDecoder(peers).push(concat([Uint8Array.of(1), u64(0n), u64(1n << 53n)])))).toBe(ErrorCode.DECODE);
    const dec = new EtcdMsgAppDecoder(peers);
    dec.push(concat([Uint8Array.of(1), u64(1n), u64(6n), Uint8Array.of(0x08)]));
    expect(errorCode(() => dec.end())).toBe(ErrorCode.TRUNCATED);
  });
});
