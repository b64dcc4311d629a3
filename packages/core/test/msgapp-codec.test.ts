import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ByteWriter } from '../src/bytes.js';
import {
  ErrorCode,
  MessageStreamEncoder,
  type Message,
  MessageType,
  MsgAppDecoder,
  MsgAppEncoder,
  createMessage,
  messagesEqual,
} from '../src/index.js';
import { LINK_HEARTBEAT } from '../src/message.js';
import { MsgAppFrame } from '../src/msgapp-codec.js';
import { arbMessage } from './arbitraries.js';
import { concat, errorCode, expectNoHeapGrowth, splitAt } from './helpers.js';

const peers = { from: 1n, to: 2n };
const app = (init: Partial<Message>) => createMessage({ type: MessageType.MsgApp, from: 1n, to: 2n, ...init });
const ent = (term: number, index: number, data: number[] = [index]) => ({ type: 0 as const, term, index, data: Uint8Array.from(data) });

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

describe('msgapp codec', () => {
  it("walks etcd's TestMsgAppV2 sequence: right frame each step, decoded equal to input", () => {
    const enc = new MsgAppEncoder(peers);
    const dec = new MsgAppDecoder(peers);
    for (const [m, frame] of ETCD_SEQUENCE) {
      const bytes = enc.encode(m);
      expect(bytes[0]).toBe(frame);
      const got = dec.push(bytes);
      expect(got).toHaveLength(1);
      expect(messagesEqual(got[0] as Message, m)).toBe(true);
    }
  });

  it('decodes the same sequence fed one byte at a time', () => {
    const enc = new MsgAppEncoder(peers);
    const wire = concat(ETCD_SEQUENCE.map(([m]) => enc.encode(m)));
    const dec = new MsgAppDecoder(peers);
    const got: Message[] = [];
    for (let i = 0; i < wire.length; i++) got.push(...dec.push(wire.subarray(i, i + 1)));
    dec.end();
    expect(got).toHaveLength(ETCD_SEQUENCE.length);
    got.forEach((m, i) => {
      expect(messagesEqual(m, ETCD_SEQUENCE[i]?.[0] as Message)).toBe(true);
    });
  });

  it('uses full frames when From/To differ from the connection or extra fields are set', () => {
    const enc = new MsgAppEncoder(peers);
    enc.encode(app({ term: 1, logTerm: 1, index: 0, entries: [ent(1, 1)] }));
    expect(enc.encode(app({ term: 1, logTerm: 1, index: 1, from: 9n, entries: [ent(1, 2)] }))[0]).toBe(MsgAppFrame.Message);
    expect(enc.encode(app({ term: 1, logTerm: 1, index: 2, context: Uint8Array.of(1), entries: [ent(1, 3)] }))[0]).toBe(
      MsgAppFrame.Message,
    );
    // entries not numbered from index+1 cannot drop their indexes
    expect(enc.encode(app({ term: 1, logTerm: 1, index: 3, entries: [ent(1, 7)] }))[0]).toBe(MsgAppFrame.Message);
    expect(enc.encode(app({ term: 1, logTerm: 1, index: 7, entries: [ent(1, 8)] }))[0]).toBe(MsgAppFrame.AppEntries);
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
      fc.property(fc.array(arbStep, { maxLength: 40 }), fc.array(fc.nat(), { maxLength: 20 }), (steps, cuts) => {
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
        const enc = new MsgAppEncoder(peers);
        const wire = concat(msgs.map((m) => enc.encode(m)));
        const dec = new MsgAppDecoder(peers);
        const got = splitAt(
          wire,
          cuts.map((c) => c % (wire.length + 1)),
        ).flatMap((c) => dec.push(c));
        expect(got.length).toBe(msgs.length);
        got.forEach((m, i) => {
          expect(messagesEqual(m, msgs[i] as Message)).toBe(true);
        });
      }),
      { numRuns: 300 },
    );
  });

  it('encodeTo appends exactly the bytes encode returns, for msgapp and message streams (batch writer)', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(arbMessage, fc.constant(LINK_HEARTBEAT), fc.nat({ max: 3 })), { maxLength: 12 }), (items) => {
        // numbers stand for continuing MsgApps, so AppEntries frames are exercised too
        let index = 0;
        const msgs = items.map((x) => {
          if (typeof x !== 'number') return x;
          const entries = Array.from({ length: x }, (_, i) => ent(1, index + i + 1, [i, x]));
          const m = app({ term: 1, logTerm: 1, index, entries, commit: index });
          index += x;
          return m;
        });
        const one = new MsgAppEncoder(peers);
        const batched = new MsgAppEncoder(peers);
        const out = new ByteWriter(16);
        for (const m of msgs) batched.encodeTo(m, out);
        expect(out.finish()).toEqual(concat(msgs.map((m) => one.encode(m))));
        const s1 = new MessageStreamEncoder();
        const s2 = new MessageStreamEncoder();
        const out2 = new ByteWriter(16);
        for (const m of msgs) s2.encodeTo(m, out2);
        expect(out2.finish()).toEqual(concat(msgs.map((m) => s1.encode(m))));
      }),
      { numRuns: 200 },
    );
  });

  it('round-trips arbitrary messages of any type as full frames', () => {
    fc.assert(
      fc.property(fc.array(arbMessage, { maxLength: 5 }), (msgs) => {
        const enc = new MsgAppEncoder(peers);
        const dec = new MsgAppDecoder(peers);
        const got = dec.push(concat(msgs.map((m) => enc.encode(m))));
        got.forEach((m, i) => {
          expect(messagesEqual(m, msgs[i] as Message)).toBe(true);
        });
      }),
      { numRuns: 300 },
    );
  });

  it('rejects a frame declaring 2^40 entries at once, without allocating', () => {
    // 0x01, body length 9, count = 2^40 as LEB128 (6 bytes), then 2 bytes of junk
    const frame = Uint8Array.of(0x01, 0x08, 0x80, 0x80, 0x80, 0x80, 0x80, 0x40, 0x00, 0x00);
    const dec = new MsgAppDecoder(peers);
    expect(expectNoHeapGrowth(() => errorCode(() => dec.push(frame)))).toBe(ErrorCode.TOO_MANY_ENTRIES);
  });

  it('rejects a count the frame cannot hold, even under the cap', () => {
    const dec = new MsgAppDecoder(peers, undefined, { maxEntries: 1000 });
    expect(errorCode(() => dec.push(Uint8Array.of(0x01, 0x03, 0x64, 0x00, 0x00)))).toBe(ErrorCode.DECODE);
  });

  it('rejects a 2^50-byte frame length at once, without allocating', () => {
    const dec = new MsgAppDecoder(peers);
    const len = [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02]; // 2^50
    expect(expectNoHeapGrowth(() => errorCode(() => dec.push(Uint8Array.of(0x02, ...len))))).toBe(ErrorCode.FRAME_TOO_LARGE);
  });

  it('checks entry size against its cap before slicing', () => {
    const dec = new MsgAppDecoder(peers, undefined, { maxEntryBytes: 16 });
    // one entry: type 0, term 1, length 17
    expect(errorCode(() => dec.push(Uint8Array.of(0x01, 0x05, 0x01, 0x00, 0x01, 0x11, 0x00)))).toBe(ErrorCode.ENTRY_TOO_LARGE);
    const full = new MsgAppDecoder(peers, undefined, { maxEntryBytes: 16 });
    const enc = new MsgAppEncoder(peers);
    expect(errorCode(() => full.push(enc.encode(app({ term: 3, logTerm: 2, entries: [ent(3, 1, new Array(17).fill(1))] }))))).toBe(
      ErrorCode.ENTRY_TOO_LARGE,
    );
  });

  it('rejects an unknown frame type, trailing bytes and a truncated end', () => {
    expect(errorCode(() => new MsgAppDecoder(peers).push(Uint8Array.of(0x07)))).toBe(ErrorCode.DECODE);
    expect(errorCode(() => new MsgAppDecoder(peers).push(Uint8Array.of(0x01, 0x03, 0x00, 0x00, 0x00)))).toBe(ErrorCode.DECODE);
    const dec = new MsgAppDecoder(peers);
    dec.push(Uint8Array.of(0x02, 0x05, 0x81));
    expect(errorCode(() => dec.end())).toBe(ErrorCode.TRUNCATED);
  });

  it('pushTo hands each message to the sink as push returns them, under any split', () => {
    fc.assert(
      fc.property(fc.array(fc.nat({ max: 4 }), { maxLength: 20 }), fc.array(fc.nat(), { maxLength: 20 }), (sizes, cuts) => {
        const enc = new MsgAppEncoder(peers);
        let index = 0;
        const msgs: Message[] = [];
        for (const n of sizes) {
          msgs.push(
            app({ term: 1, logTerm: 1, index, entries: Array.from({ length: n }, (_, i) => ent(1, index + i + 1, [i, n])), commit: index }),
          );
          index += n;
          if (n === 0) msgs.push(LINK_HEARTBEAT);
        }
        const chunks = splitAt(
          concat(msgs.map((m) => enc.encode(m))),
          cuts.map((c) => c % 200),
        );
        const a = new MsgAppDecoder(peers);
        const b = new MsgAppDecoder(peers);
        const pushed = chunks.flatMap((c) => a.push(c));
        const sunk: Message[] = [];
        for (const c of chunks) b.pushTo(c, (m) => sunk.push(m));
        b.end();
        expect(sunk.length).toBe(msgs.length);
        sunk.forEach((m, i) => {
          expect(messagesEqual(m, pushed[i] as Message)).toBe(true);
          expect(messagesEqual(m, msgs[i] as Message)).toBe(true);
        });
      }),
      { numRuns: 200 },
    );
  });

  it('pushTo rethrows what the sink throws, as it is, and stays failed', () => {
    const enc = new MsgAppEncoder(peers);
    const wire = concat([LINK_HEARTBEAT, LINK_HEARTBEAT].map((m) => enc.encode(m)));
    const dec = new MsgAppDecoder(peers);
    const boom = new Error('sink failed');
    let calls = 0;
    expect(() =>
      dec.pushTo(wire, () => {
        calls++;
        throw boom;
      }),
    ).toThrow(boom);
    expect(calls).toBe(1);
    expect(errorCode(() => dec.push(wire))).toBe(ErrorCode.DECODE);
  });

  it('decodes AppEntries with one shared frozen empty responses array; the rest of the message stays mutable', () => {
    const enc = new MsgAppEncoder(peers);
    const dec = new MsgAppDecoder(peers);
    dec.push(enc.encode(app({ term: 1, logTerm: 1, index: 0, entries: [ent(1, 1)] })));
    const [a] = dec.push(enc.encode(app({ term: 1, logTerm: 1, index: 1, entries: [ent(1, 2)] })));
    const [b] = dec.push(enc.encode(app({ term: 1, logTerm: 1, index: 2, entries: [] })));
    const x = a as Message;
    const y = b as Message;
    expect(x.responses).toEqual([]);
    expect(x.responses).toBe(y.responses);
    expect(Object.isFrozen(x.responses)).toBe(true);
    expect(() => x.responses.push(y)).toThrow(TypeError);
    // Entries arrays are each message's own, as are the message's fields.
    expect(x.entries).not.toBe(y.entries);
    y.entries.push(ent(1, 3));
    x.commit = 7;
    x.responses = [y];
    expect(x.commit).toBe(7);
    expect(y.entries).toHaveLength(1);
  });

  it('uses fewer bytes than etcd for a steady-state one-entry MsgApp', () => {
    const enc = new MsgAppEncoder(peers);
    enc.encode(app({ term: 5, logTerm: 4, index: 1000, entries: [ent(5, 1001, new Array(64).fill(1))] }));
    const bytes = enc.encode(app({ term: 5, logTerm: 5, index: 1001, entries: [ent(5, 1002, new Array(64).fill(2))], commit: 1001 }));
    expect(bytes[0]).toBe(MsgAppFrame.AppEntries);
    // etcd: 1 + 8 (count) + 8 (entry length) + protobuf Entry (~73 bytes for 64 B data) + 8 (commit)
    expect(bytes.length).toBeLessThan(1 + 8 + 8 + 64 + 8);
  });
});
