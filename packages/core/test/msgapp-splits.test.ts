import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Message, MessageType, MsgAppDecoder, MsgAppEncoder, RaftwireError, createMessage, messagesEqual } from '../src/index.js';
import { LINK_HEARTBEAT } from '../src/message.js';
import { concat, splitAt } from './helpers.js';

/**
 * MsgAppDecoder decodes an AppEntries body that spans chunks as its bytes arrive (no copy of the
 * frame): every entry whose data lies inside one chunk is a view of that chunk, and only an entry
 * whose data straddles two chunks is copied. These properties check that any split of the wire
 * (every split point, inside varints and inside entry data included) decodes exactly as the
 * unsplit wire, that views and copies are where that rule puts them, that a corrupted wire fails
 * with the same error under any split, and that the decoder keeps no chunk once it is between
 * frames.
 */
const peers = { from: 1n, to: 2n };

/** Sizes that make 1-, 2- and 3-byte length varints, and terms/commits of 1 to 7 bytes. */
const arbSize = fc.oneof(fc.nat({ max: 20 }), fc.integer({ min: 120, max: 140 }), fc.constantFrom(0, 127, 128, 16_383, 16_384, 20_000));
const arbBig = fc.oneof(fc.nat({ max: 200 }), fc.integer({ min: 1, max: 2 ** 40 }));
const arbStep = fc.record({
  sizes: fc.array(arbSize, { maxLength: 5 }),
  seed: fc.nat({ max: 255 }),
  commit: arbBig,
  type: fc.constantFrom(0 as const, 1 as const, 2 as const),
  heartbeat: fc.boolean(),
});
/** Small entries only, for inputs fed one byte at a time. */
const arbSmallStep = fc.record({
  sizes: fc.array(fc.oneof(fc.nat({ max: 20 }), fc.integer({ min: 120, max: 140 })), { maxLength: 4 }),
  seed: fc.nat({ max: 255 }),
  commit: arbBig,
  type: fc.constantFrom(0 as const, 1 as const, 2 as const),
  heartbeat: fc.boolean(),
});
type Step = typeof arbStep extends fc.Arbitrary<infer T> ? T : never;

/** Consecutive MsgApps of one high term, so all but the first go as AppEntries frames. */
function messages(steps: readonly Step[], term: number): Message[] {
  let index = 0;
  const msgs: Message[] = [];
  for (const s of steps) {
    const entries = s.sizes.map((size, i) => ({
      type: s.type,
      term,
      index: index + i + 1,
      data: Uint8Array.from({ length: size }, (_, k) => (s.seed + i * 31 + k * 7) & 0xff),
    }));
    msgs.push(createMessage({ type: MessageType.MsgApp, from: 1n, to: 2n, term, logTerm: term, index, entries, commit: s.commit }));
    if (s.heartbeat) msgs.push(LINK_HEARTBEAT);
    index += entries.length;
  }
  return msgs;
}

/** What a decoder delivers for `chunks` (fresh memory each), and the error it stopped with. */
function decode(chunks: readonly Uint8Array[]): { got: Message[]; error: string | null } {
  const dec = new MsgAppDecoder(peers, undefined, { maxEntries: 64, maxEntryBytes: 1 << 15, maxFrameBytes: 1 << 18 });
  const got: Message[] = [];
  try {
    for (const c of chunks) got.push(...dec.push(c));
    dec.end();
  } catch (err) {
    if (!(err instanceof RaftwireError)) throw err;
    return { got, error: `${err.code}: ${err.message}` };
  }
  return { got, error: null };
}

const pieces = (wire: Uint8Array, cuts: readonly number[]): Uint8Array[] =>
  splitAt(
    wire,
    cuts.map((c) => c % (wire.length + 1)),
  ).map((c) => c.slice());

/** Byte equality without the matcher's per-element walk (these arrays run to megabytes). */
const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => Buffer.compare(a, b) === 0;

function expectSame(got: readonly Message[], want: readonly Message[]): void {
  expect(got.length).toBe(want.length);
  got.forEach((m, i) => {
    expect(messagesEqual(m, want[i] as Message)).toBe(true);
  });
}

/**
 * Every Uint8Array a decoder holds: its own fields and the objects in them (its frame reader, its
 * byte reader, entries of a frame in progress), not the message codec it was given.
 */
function heldBytes(dec: MsgAppDecoder): Uint8Array[] {
  const out: Uint8Array[] = [];
  const walk = (o: unknown, depth: number): void => {
    if (o instanceof Uint8Array) out.push(o);
    else if (depth > 0 && o !== null && typeof o === 'object') for (const v of Object.values(o)) walk(v, depth - 1);
  };
  for (const [k, v] of Object.entries(dec)) if (k !== 'codec') walk(v, 3);
  return out;
}

/**
 * Where the data of each AppEntries entry lies on `wire` ([start, end) per message and entry, in
 * delivery order; null for messages of full frames, whose entries the message codec makes), read
 * from the views an unsplit decode gives.
 */
type Spans = [number, number][] & { byMessage: ([number, number] | null)[][] };
function dataSpans(wire: Uint8Array): Spans {
  const spans = [] as unknown as Spans;
  spans.byMessage = new MsgAppDecoder(peers, undefined, { maxEntries: 64 }).push(wire).map((m, i) =>
    m.entries.map((e) => {
      // The first message goes as a full frame (a fresh stream is at term 0): the codec's business.
      if (i === 0 || e.data.length === 0) return null;
      expect(e.data.buffer).toBe(wire.buffer);
      const span: [number, number] = [e.data.byteOffset, e.data.byteOffset + e.data.length];
      spans.push(span);
      return span;
    }),
  );
  return spans;
}

/** Each entry whose data lies inside one chunk is a view of it at its place; one that straddles chunks is a copy of its own. */
function expectPlacement(spans: Spans, chunks: readonly Uint8Array[], got: readonly Message[]): void {
  const starts: number[] = [];
  for (let i = 0, at = 0; i < chunks.length; at += (chunks[i] as Uint8Array).length, i++) starts.push(at);
  got.forEach((m, i) => {
    m.entries.forEach((e, j) => {
      const span = spans.byMessage[i]?.[j];
      if (span === null || span === undefined) return;
      const [start, end] = span;
      const k = chunks.findIndex((c, x) => start >= (starts[x] as number) && start < (starts[x] as number) + c.length);
      const c = chunks[k] as Uint8Array;
      if (end <= (starts[k] as number) + c.length) {
        expect(e.data.buffer).toBe(c.buffer);
        expect(e.data.byteOffset).toBe(c.byteOffset + start - (starts[k] as number));
      } else {
        expect(chunks.some((x) => x.buffer === e.data.buffer)).toBe(false);
        expect(e.data.byteOffset).toBe(0);
        expect(e.data.buffer.byteLength).toBe(e.data.length);
      }
    });
  });
}

describe('msgapp decoder: AppEntries bodies split across chunks', () => {
  it('decodes every single split point of a wire as the unsplit wire, inside varints and entry data too', () => {
    // Multi-byte varints everywhere: a 2^40 term and commit, lengths of 1, 2 and 3 bytes.
    const steps: Step[] = [
      { sizes: [3], seed: 1, commit: 1, type: 0, heartbeat: false },
      { sizes: [0, 130, 5], seed: 2, commit: 2 ** 40, type: 1, heartbeat: true },
      { sizes: [], seed: 3, commit: 300, type: 0, heartbeat: false },
      { sizes: [16_384, 1], seed: 4, commit: 7, type: 2, heartbeat: false },
      { sizes: [200, 200, 200], seed: 5, commit: 2 ** 33, type: 0, heartbeat: false },
    ];
    const msgs = messages(steps, 2 ** 40);
    const enc = new MsgAppEncoder(peers);
    const full = concat(msgs.map((m) => enc.encode(m)));
    const spans = dataSpans(full);
    for (let p = 0; p <= full.length; p++) {
      const chunks = [full.slice(0, p), full.slice(p)];
      const { got, error } = decode(chunks);
      expect(error).toBeNull();
      expectSame(got, msgs);
      expectPlacement(spans, chunks, got);
    }
    // Three chunks, the middle one exactly one entry's data (or a byte more or less on either side).
    for (const [s0, e0] of spans) {
      for (const [ds, de] of [
        [0, 0],
        [-1, 0],
        [1, 0],
        [0, -1],
        [0, 1],
      ] as const) {
        const chunks = pieces(full, [s0 + ds, e0 + de]);
        const { got, error } = decode(chunks);
        expect(error).toBeNull();
        expectSame(got, msgs);
        expectPlacement(spans, chunks, got);
      }
    }
    // And fed one byte at a time.
    const bytewise = decode(Array.from(full, (b) => Uint8Array.of(b)));
    expect(bytewise.error).toBeNull();
    expectSame(bytewise.got, msgs);
  });

  it('decodes any split as the unsplit wire; views exactly where an entry lies in one chunk, copies where it straddles', () => {
    // Cuts anywhere, and cuts at (or one byte off) the edges of entry data, where a view can end
    // exactly at a chunk's end or begin exactly at its start.
    const arbCut = fc.record({ edge: fc.boolean(), n: fc.nat(), jitter: fc.integer({ min: -1, max: 1 }) });
    fc.assert(
      fc.property(
        fc.array(arbStep, { minLength: 1, maxLength: 12 }),
        fc.array(arbCut, { maxLength: 40 }),
        fc.constantFrom(1, 200, 2 ** 40),
        (steps, cuts, term) => {
          const msgs = messages(steps, term);
          const enc = new MsgAppEncoder(peers);
          const wire = concat(msgs.map((m) => enc.encode(m)));
          const spans = dataSpans(wire);
          const edges = spans.flat();
          const points = cuts.map((c) =>
            c.edge && edges.length > 0 ? Math.max(0, (edges[c.n % edges.length] as number) + c.jitter) : c.n % (wire.length + 1),
          );
          const chunks = pieces(wire, points);
          const before = chunks.map((c) => c.slice());
          const { got, error } = decode(chunks);
          expect(error).toBeNull();
          expectSame(got, msgs);
          // The decoder wrote to no chunk, and every view still reads its bytes.
          chunks.forEach((c, i) => {
            expect(sameBytes(c, before[i] as Uint8Array)).toBe(true);
          });
          expectPlacement(spans, chunks, got);
        },
      ),
      { numRuns: 400 },
    );
  });

  it('fails a corrupted wire with the same error under any split, delivering a prefix of what byte-at-a-time feeding delivers', () => {
    fc.assert(
      fc.property(
        fc.array(arbSmallStep, { minLength: 1, maxLength: 6 }),
        fc.array(fc.record({ at: fc.nat(), op: fc.nat({ max: 3 }), b: fc.nat({ max: 255 }) }), { minLength: 1, maxLength: 4 }),
        fc.array(fc.nat(), { maxLength: 12 }),
        (steps, edits, cuts) => {
          const enc = new MsgAppEncoder(peers);
          const bytes = Array.from(concat(messages(steps, 5).map((m) => enc.encode(m))));
          for (const e of edits) {
            const at = e.at % (bytes.length + 1);
            if (e.op === 0 && bytes.length > 0) bytes[at % bytes.length] = e.b;
            else if (e.op === 1) bytes.splice(at, 0, e.b);
            else if (e.op === 2) bytes.splice(at, 1 + (e.b % 4));
            else bytes.length = at;
          }
          const wire = Uint8Array.from(bytes);
          const canon = decode(Array.from(wire, (b) => Uint8Array.of(b)));
          const split = decode(pieces(wire, cuts));
          expect(split.error).toBe(canon.error);
          if (canon.error === null) expectSame(split.got, canon.got);
          else expectSame(split.got, canon.got.slice(0, split.got.length));
        },
      ),
      { numRuns: 500 },
    );
  });

  it('keeps no chunk once it is between frames, and views keep their bytes as later chunks go through', () => {
    fc.assert(
      fc.property(fc.array(arbStep, { minLength: 1, maxLength: 10 }), fc.array(fc.nat(), { maxLength: 30 }), (steps, cuts) => {
        const msgs = messages(steps, 3);
        const enc = new MsgAppEncoder(peers);
        const wire = concat(msgs.map((m) => enc.encode(m)));
        const chunks = pieces(wire, cuts);
        const buffers = new Set(chunks.map((c) => c.buffer));
        const dec = new MsgAppDecoder(peers);
        const got: { m: Message; copies: Uint8Array[] }[] = [];
        for (const c of chunks) {
          for (const m of dec.push(c)) got.push({ m, copies: m.entries.map((e) => e.data.slice()) });
          if (dec.idle) {
            for (const b of heldBytes(dec)) expect(buffers.has(b.buffer)).toBe(false);
          }
        }
        dec.end();
        for (const b of heldBytes(dec)) expect(buffers.has(b.buffer)).toBe(false);
        // Every entry, delivered chunks ago, still reads what it read when delivered.
        for (const { m, copies } of got) {
          m.entries.forEach((e, i) => {
            expect(sameBytes(e.data, copies[i] as Uint8Array)).toBe(true);
          });
        }
        expectSame(
          got.map((g) => g.m),
          msgs,
        );
      }),
      { numRuns: 300 },
    );
  });
});
