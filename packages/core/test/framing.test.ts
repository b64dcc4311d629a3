import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ErrorCode,
  FrameDecoder,
  type Message,
  MessageStreamDecoder,
  MessageStreamEncoder,
  encodeFrame,
  messagesEqual,
} from '../src/index.js';
import { arbMessage } from './arbitraries.js';
import { concat, errorCode, expectNoHeapGrowth, splitAt } from './helpers.js';

/** LEB128 of a number that may exceed 2^32. */
function leb(n: number): number[] {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n % 128) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return out;
}

describe('length-prefixed framing', () => {
  it('decodes frames split at any byte boundary', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 20 }),
        fc.array(fc.nat(), { maxLength: 30 }),
        (payloads, cuts) => {
          const wire = concat(payloads.map(encodeFrame));
          const dec = new FrameDecoder();
          const got = splitAt(
            wire,
            cuts.map((c) => (wire.length ? c % (wire.length + 1) : 0)),
          ).flatMap((chunk) => dec.push(chunk));
          dec.end();
          expect(got.map((f) => Array.from(f))).toEqual(payloads.map((p) => Array.from(p)));
        },
      ),
      { numRuns: 500 },
    );
  });

  it('decodes input fed one byte at a time', () => {
    const payloads = [new Uint8Array(0), Uint8Array.of(1), new Uint8Array(200).fill(7), new Uint8Array(20000).fill(9)];
    const wire = concat(payloads.map(encodeFrame));
    const dec = new FrameDecoder();
    const got: Uint8Array[] = [];
    for (let i = 0; i < wire.length; i++) got.push(...dec.push(wire.subarray(i, i + 1)));
    expect(got.map((f) => f.length)).toEqual([0, 1, 200, 20000]);
    expect(got[3]?.every((b) => b === 9)).toBe(true);
    dec.end();
  });

  it('rejects a 2^50-byte declared length at once, without allocating', () => {
    const dec = new FrameDecoder({ maxFrameBytes: 1 << 20 });
    const code = expectNoHeapGrowth(() => errorCode(() => dec.push(Uint8Array.from(leb(2 ** 50)))));
    expect(code).toBe(ErrorCode.FRAME_TOO_LARGE);
    // The decoder stays failed: the connection must be dropped.
    expect(errorCode(() => dec.push(Uint8Array.of(0)))).toBe(ErrorCode.FRAME_TOO_LARGE);
  });

  it('rejects a length over the cap even when it arrives one byte at a time', () => {
    const dec = new FrameDecoder({ maxFrameBytes: 1000 });
    const header = leb(1001);
    expect(dec.push(Uint8Array.of(header[0] as number))).toEqual([]);
    expect(errorCode(() => dec.push(Uint8Array.of(header[1] as number)))).toBe(ErrorCode.FRAME_TOO_LARGE);
  });

  it('rejects a length prefix longer than 8 bytes', () => {
    expect(errorCode(() => new FrameDecoder().push(new Uint8Array(9).fill(0xff)))).toBe(ErrorCode.FRAME_TOO_LARGE);
  });

  it('reports a stream that ends inside a frame as ERR_TRUNCATED', () => {
    const dec = new FrameDecoder();
    dec.push(encodeFrame(new Uint8Array(10)).subarray(0, 5));
    expect(errorCode(() => dec.end())).toBe(ErrorCode.TRUNCATED);
  });
});

describe('message stream codec', () => {
  it('round-trips messages split at any boundary', () => {
    fc.assert(
      fc.property(fc.array(arbMessage, { maxLength: 8 }), fc.array(fc.nat(), { maxLength: 10 }), (msgs, cuts) => {
        const enc = new MessageStreamEncoder();
        const wire = concat(msgs.map((m) => enc.encode(m)));
        const dec = new MessageStreamDecoder();
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

  it('turns a malformed frame into ERR_DECODE and stays failed', () => {
    const dec = new MessageStreamDecoder();
    expect(errorCode(() => dec.push(encodeFrame(Uint8Array.of(0xff))))).toBe(ErrorCode.DECODE);
    expect(errorCode(() => dec.end())).toBe(ErrorCode.DECODE);
  });
});
