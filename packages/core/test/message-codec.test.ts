import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ErrorCode,
  MAX_LOG_POSITION,
  type Message,
  MessageType,
  RaftwireError,
  cborMessageCodec,
  createMessage,
  messageTypeName,
  messagesEqual,
} from '../src/index.js';
import { CBOR_OPTIONS } from '../src/cbor-options.js';
import { CborMessageCodec } from '../src/message-codec.js';
import { arbMessage } from './arbitraries.js';
import { VECTORS } from './vectors.js';

const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
const unhex = (s: string) => Uint8Array.from(s.match(/../g) ?? [], (x) => Number.parseInt(x, 16));

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(RaftwireError);
    return (err as RaftwireError).code;
  }
  return undefined;
}

function assertPlainBytes(m: Message): void {
  const all = [m.context, ...m.entries.map((e) => e.data), ...(m.snapshot ? [m.snapshot.data] : [])];
  for (const b of all) expect(b.constructor).toBe(Uint8Array);
  m.responses.forEach(assertPlainBytes);
}

describe('message model', () => {
  it('names every type as etcd does, and unknown numbers as MessageType(n)', () => {
    expect(messageTypeName(MessageType.MsgHup)).toBe('MsgHup');
    expect(messageTypeName(3)).toBe('MsgApp');
    expect(messageTypeName(17)).toBe('MsgPreVote');
    expect(messageTypeName(18)).toBe('MsgPreVoteResp');
    expect(messageTypeName(99)).toBe('MessageType(99)');
  });
});

describe('CBOR message codec', () => {
  it('pins the cbor-x options that differ between Node and browsers', () => {
    expect(CBOR_OPTIONS).toMatchObject({ useRecords: false, tagUint8Array: false, int64AsNumber: false, bundleStrings: false });
    expect(Object.isFrozen(CBOR_OPTIONS)).toBe(true);
  });

  it.each(VECTORS)('encodes the golden vector "$name" byte for byte and decodes it back', ({ message, hex: want }) => {
    const bytes = cborMessageCodec.encode(message);
    expect(hex(bytes)).toBe(want);
    expect(messagesEqual(cborMessageCodec.decode(unhex(want)), message)).toBe(true);
  });

  it('never emits tag 64 for bytes (plain CBOR byte strings only)', () => {
    const m = createMessage({ type: MessageType.MsgProp, context: Uint8Array.of(1, 2, 3) });
    expect(hex(cborMessageCodec.encode(m))).toContain('43010203');
    expect(hex(cborMessageCodec.encode(m))).not.toContain('d840');
  });

  it('round-trips arbitrary messages field for field, zero fields and IDs above 2^53 included', () => {
    fc.assert(
      fc.property(arbMessage, (m) => {
        const back = cborMessageCodec.decode(cborMessageCodec.encode(m));
        expect(back).toEqual(m);
        expect(messagesEqual(back, m)).toBe(true);
        assertPlainBytes(back);
      }),
      { numRuns: 2000 },
    );
  });

  it('keeps earlier encodings intact while encoding more (no shared buffer reuse)', () => {
    fc.assert(
      fc.property(fc.array(arbMessage, { minLength: 2, maxLength: 30 }), (msgs) => {
        const codec = new CborMessageCodec();
        const encoded = msgs.map((m) => codec.encode(m));
        encoded.forEach((b, i) => {
          expect(messagesEqual(codec.decode(b), msgs[i] as Message)).toBe(true);
        });
      }),
      { numRuns: 200 },
    );
  });

  it('decodes bytes as plain Uint8Array even from a Node Buffer', () => {
    const m = createMessage({
      type: MessageType.MsgApp,
      context: Uint8Array.of(9),
      entries: [{ type: 0, term: 1, index: 1, data: Uint8Array.of(7) }],
    });
    const back = cborMessageCodec.decode(Buffer.from(cborMessageCodec.encode(m)));
    assertPlainBytes(back);
    expect(back.context).not.toBeInstanceOf(Buffer);
  });

  it.each([
    ['empty input', ''],
    ['not an array', '01'],
    ['empty array', '80'],
    ['unknown message type', '811863'],
    ['negative term', '84080201' + '20'],
    ['fractional term', '8408020' + '1fb3ff8000000000000'],
    ['term above 2^53-1', '8408020' + '11b0020000000000000'],
    ['ID above 2^64-1 (bignum tag)', '8308c249010000000000000000'],
    ['string where bytes belong', '8d07030107000080000080f4006161'],
    ['entry that is not an array', '8703020105050981' + '05'],
    ['bad entry type', '870302010505098184050a40' + '07'],
    ['bool that is a number', '8b0302010505098000008001'],
    ['truncated', '88080201'],
    ['trailing bytes', '8108' + '00'],
    [
      'deeply nested responses',
      '8e08000000000080000000f40040' + '81' + '8e08000000000080000000f40040' + '81' + '8e08000000000080000000f40040' + '81' + '8108',
    ],
  ])('rejects %s with ERR_DECODE', (_name, input) => {
    expect(codeOf(() => cborMessageCodec.decode(unhex(input)))).toBe(ErrorCode.DECODE);
  });

  it('rejects invalid messages on encode with ERR_INVALID_MESSAGE', () => {
    const base = createMessage({ type: MessageType.MsgApp });
    const bad: Partial<Record<keyof Message, unknown>>[] = [
      { term: -1 },
      { term: 1.5 },
      { index: 2 ** 53 },
      { commit: Number.NaN },
      { to: -1n },
      { from: 1n << 64n },
      { vote: 3 },
      { type: 99 },
      { context: 'x' },
      { entries: [{ type: 9, term: 0, index: 0, data: new Uint8Array(0) }] },
      { entries: 'x' },
      { reject: 1 },
    ];
    for (const b of bad) {
      expect(
        codeOf(() => cborMessageCodec.encode({ ...base, ...b } as Message)),
        JSON.stringify(b, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v)),
      ).toBe(ErrorCode.INVALID_MESSAGE);
    }
  });
});

describe('CBOR writer cross-check against cbor-x', () => {
  /** The message as the generic cbor-x encoder would be given it (IDs up to 2^32-1 as numbers). */
  function reference(m: Message): unknown[] {
    const id = (v: bigint) => (v <= 0xffffffffn ? Number(v) : v);
    const trimmed = (a: unknown[]) => {
      let n = a.length;
      const empty = (v: unknown) =>
        v === 0 || v === false || v === null || (Array.isArray(v) && !v.length) || (v instanceof Uint8Array && !v.length);
      while (n > 1 && empty(a[n - 1])) n--;
      return a.slice(0, n);
    };
    const entry = (e: Message['entries'][number]) => {
      const a = trimmed([e.term, e.index, e.data, e.type]);
      return a.length === 1 && a[0] === 0 ? [] : a;
    };
    const snap =
      m.snapshot &&
      (() => {
        const s = m.snapshot;
        const cs = s.metadata.confState;
        const a = trimmed([
          s.data,
          s.metadata.index,
          s.metadata.term,
          cs.voters.map(id),
          cs.learners.map(id),
          cs.votersOutgoing.map(id),
          cs.learnersNext.map(id),
          cs.autoLeave,
        ]);
        return a.length === 1 && a[0] instanceof Uint8Array && !a[0].length ? [] : a;
      })();
    return trimmed([
      m.type,
      id(m.to),
      id(m.from),
      m.term,
      m.logTerm,
      m.index,
      m.entries.map(entry),
      m.commit,
      id(m.vote),
      snap,
      m.reject,
      m.rejectHint,
      m.context,
      m.responses.map(reference),
    ]);
  }

  it('writes exactly the bytes cbor-x writes, for integers below 2^32', async () => {
    const { createCborEncoder } = await import('../src/cbor-options.js');
    const cbor = createCborEncoder();
    const small = arbMessage.filter(
      (m) =>
        JSON.stringify(m, (_k, v) => (typeof v === 'number' && v >= 2 ** 32 ? 'big' : typeof v === 'bigint' ? String(v) : v)).indexOf(
          '"big"',
        ) < 0,
    );
    fc.assert(
      fc.property(small, (m) => {
        expect(hex(cborMessageCodec.encode(m))).toBe(hex(cbor.encode(reference(m))));
      }),
      { numRuns: 1000 },
    );
  });

  it('writes integers from 2^32 up as uint64, never as floats, and reads them back', () => {
    const m = createMessage({ type: MessageType.MsgApp, term: 2 ** 32, index: MAX_LOG_POSITION, to: 0x100000000n });
    const bytes = hex(cborMessageCodec.encode(m));
    // [3, to, from, term, logTerm, index]
    expect(bytes).toBe(['86', '03', '1b0000000100000000', '00', '1b0000000100000000', '00', '1b001ffffffff00000'].join(''));
    expect(bytes).not.toMatch(/fb/);
    expect(messagesEqual(cborMessageCodec.decode(unhex(bytes)), m)).toBe(true);
  });

  it('still reads integers that a generic CBOR encoder wrote as floats', () => {
    // [3, 0, 0, 2^32 as float64]
    const m = cborMessageCodec.decode(unhex('84030000fb41f0000000000000'));
    expect(m.term).toBe(2 ** 32);
  });
});

describe('CBOR decoding from the reused scratch buffer', () => {
  it('rejects a truncated message decoded right after a longer one (no stale bytes read)', () => {
    const codec = new CborMessageCodec();
    const long = codec.encode(
      createMessage({
        type: MessageType.MsgApp,
        term: 2 ** 40,
        index: 2 ** 40,
        commit: 7,
        entries: [{ type: 0, term: 1, index: 2, data: new Uint8Array(100).fill(1) }],
      }),
    );
    codec.decode(long);
    for (let cut = 1; cut < long.length; cut++) {
      expect(codeOf(() => codec.decode(long.slice(0, cut)))).toBe(ErrorCode.DECODE);
    }
  });

  it('returns bytes that do not alias the scratch buffer or the input', () => {
    const codec = new CborMessageCodec();
    const input = codec.encode(
      createMessage({ type: MessageType.MsgProp, entries: [{ type: 0, term: 1, index: 1, data: Uint8Array.of(1, 2, 3) }] }),
    );
    const first = codec.decode(input);
    input.fill(0);
    codec.decode(
      codec.encode(createMessage({ type: MessageType.MsgProp, entries: [{ type: 0, term: 9, index: 9, data: Uint8Array.of(9, 9, 9) }] })),
    );
    expect(Array.from(first.entries[0]?.data ?? [])).toEqual([1, 2, 3]);
  });

  it('decodes frames larger than the scratch buffer in place', () => {
    const m = createMessage({ type: MessageType.MsgApp, entries: [{ type: 0, term: 1, index: 1, data: new Uint8Array(200_000).fill(5) }] });
    const back = cborMessageCodec.decode(cborMessageCodec.encode(m));
    expect(messagesEqual(back, m)).toBe(true);
    assertPlainBytes(back);
  });
});

describe('encoder output ownership', () => {
  it('keeps every output intact across many slabs, including when a message outgrows one', () => {
    const codec = new CborMessageCodec();
    const msgs: Message[] = [];
    for (let i = 0; i < 3000; i++) {
      const size = i % 500 === 0 ? 70_000 : (i * 37) % 300;
      msgs.push(
        createMessage({
          type: MessageType.MsgApp,
          term: i,
          index: i,
          entries: [{ type: 0, term: i, index: i + 1, data: new Uint8Array(size).fill(i & 0xff) }],
        }),
      );
    }
    const out = msgs.map((m) => codec.encode(m));
    out.forEach((b, i) => {
      expect(messagesEqual(codec.decode(b), msgs[i] as Message)).toBe(true);
    });
  });
});
