import { ErrorCode, concatBytes } from '@raftwire/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  FrameType,
  MAX_NEGOTIATED_FRAME_BYTES,
  MAX_WIRE_FRAME_BYTES,
  decodeMuxFrame,
  encodeMuxFrame,
  fragment,
} from '../../src/webrtc/mux-frame.js';
import { Reassembler } from '../../src/webrtc/reassembler.js';

describe('mux frames', () => {
  it('round-trip every field', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(FrameType.HEAD, FrameType.DATA, FrameType.END, FrameType.RESET, FrameType.WINDOW, FrameType.PING, FrameType.PONG),
        fc.integer({ min: 0, max: 0xffff_ffff }),
        fc.boolean(),
        fc.uint8Array({ maxLength: 2000 }),
        (type, requestId, fromClient, payload) => {
          const body = type === FrameType.HEAD || type === FrameType.DATA;
          const more = body && payload.length % 2 === 0;
          const fin = body && !more && payload.length % 3 === 0;
          const f = decodeMuxFrame(encodeMuxFrame({ type, requestId, fromClient, more, fin, payload }));
          expect(f).toEqual({ type, requestId, fromClient, more, payload, ...(fin ? { fin } : {}) });
        },
      ),
    );
  });

  it('reject unknown types, fragmented control frames, oversized frames and truncated ids', () => {
    const bad = [
      new Uint8Array([0x08, 1]),
      new Uint8Array([0x00, 1]),
      new Uint8Array([0x80 | FrameType.END, 1]),
      new Uint8Array([0x10 | FrameType.DATA, 1]),
      new Uint8Array([0x20 | FrameType.END, 1]),
      new Uint8Array([0xa0 | FrameType.DATA, 1]),
      new Uint8Array([FrameType.DATA, 0x80]),
      new Uint8Array(0),
    ];
    for (const b of bad) expect(() => decodeMuxFrame(b)).toThrow(expect.objectContaining({ code: ErrorCode.DECODE }));
    expect(() => decodeMuxFrame(new Uint8Array(MAX_WIRE_FRAME_BYTES + 1))).toThrow(expect.objectContaining({ code: ErrorCode.DECODE }));
    // A well-formed frame is taken up to the negotiated ceiling and refused one byte past it.
    const frame = (size: number) => {
      const b = new Uint8Array(size);
      b[0] = FrameType.DATA;
      b[1] = 1;
      return b;
    };
    expect(decodeMuxFrame(frame(MAX_NEGOTIATED_FRAME_BYTES)).payload.length).toBe(MAX_NEGOTIATED_FRAME_BYTES - 2);
    expect(() => decodeMuxFrame(frame(MAX_NEGOTIATED_FRAME_BYTES + 1))).toThrow(expect.objectContaining({ code: ErrorCode.DECODE }));
  });

  it('fragments any message into ≤16 KiB frames that reassemble to the same bytes', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 5 * MAX_WIRE_FRAME_BYTES }), fc.integer({ min: 0, max: 1000 }), (size, seed) => {
        const msg = new Uint8Array(size).map((_, i) => (i * 13 + seed) & 0xff);
        const frames = fragment(FrameType.DATA, 42, true, msg);
        expect(frames.every((f) => f.length <= MAX_WIRE_FRAME_BYTES)).toBe(true);
        const r = new Reassembler(size);
        let out: Uint8Array | null = null;
        frames.forEach((bytes, i) => {
          const f = decodeMuxFrame(bytes);
          expect(f.more).toBe(i < frames.length - 1);
          out = r.push(f.payload, f.more);
          expect(out === null).toBe(i < frames.length - 1);
        });
        expect(out !== null && Buffer.from(out as Uint8Array).equals(msg)).toBe(true);
        expect(r.pendingBytes).toBe(0);
      }),
      { numRuns: 60 },
    );
  });

  it('fragments into frames of a negotiated size (up to 64 KiB) that reassemble to the same bytes', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 300_000 }),
        fc.constantFrom(4096, MAX_WIRE_FRAME_BYTES, 32 * 1024, MAX_NEGOTIATED_FRAME_BYTES),
        (size, frameBytes) => {
          const msg = new Uint8Array(size).map((_, i) => (i * 7) & 0xff);
          const frames = fragment(FrameType.DATA, 3, false, msg, true, frameBytes);
          expect(frames.every((f) => f.length <= frameBytes)).toBe(true);
          if (size > 2 * frameBytes) expect(frames[0]?.length).toBe(frameBytes - 6 + 2); // payload full, 1-byte id
          const r = new Reassembler(size);
          let out: Uint8Array | null = null;
          for (const bytes of frames) {
            const f = decodeMuxFrame(bytes);
            out = r.push(f.payload, f.more);
          }
          expect(out !== null && Buffer.from(out as Uint8Array).equals(msg)).toBe(true);
        },
      ),
      { numRuns: 40 },
    );
    expect(() => fragment(FrameType.DATA, 1, true, new Uint8Array(10), false, MAX_NEGOTIATED_FRAME_BYTES + 1)).toThrow(RangeError);
  });
});

describe('Reassembler', () => {
  it('fails with ERR_FRAME_TOO_LARGE as soon as a message passes the cap, then starts clean', () => {
    const r = new Reassembler(40_000);
    expect(r.push(new Uint8Array(16_000), true)).toBeNull();
    expect(r.push(new Uint8Array(16_000), true)).toBeNull();
    expect(() => r.push(new Uint8Array(16_000), true)).toThrow(expect.objectContaining({ code: ErrorCode.FRAME_TOO_LARGE }));
    expect(r.pendingBytes).toBe(0);
    const a = new Uint8Array([1, 2]);
    const b = new Uint8Array([3]);
    expect(r.push(a, true)).toBeNull();
    expect(r.push(b, false)).toEqual(concatBytes([a, b]));
    // A message exactly at the cap is fine.
    expect(r.push(new Uint8Array(40_000), false)?.length).toBe(40_000);
  });

  it('returns messages that neither share a buffer with the next one nor pin a much larger one', () => {
    const r = new Reassembler(1024 * 1024);
    const out: Uint8Array[] = [];
    for (const size of [20_000, 256 * 1024, 40_000, 256 * 1024 + 7]) {
      const msg = new Uint8Array(size).map((_, i) => (i * 7 + size) & 0xff);
      const frames = fragment(FrameType.DATA, 1, true, msg);
      let whole: Uint8Array | null = null;
      for (const f of frames.map((b) => decodeMuxFrame(b))) whole = r.push(f.payload, f.more);
      expect(whole).not.toBeNull();
      const m = whole as unknown as Uint8Array;
      expect(Buffer.from(m).equals(msg)).toBe(true);
      expect(m.buffer.byteLength).toBeLessThanOrEqual(Math.ceil(size * 1.125));
      out.push(m);
    }
    // Earlier messages are intact after later ones were assembled.
    for (const m of out) expect(m.every((v, i) => v === ((i * 7 + m.length) & 0xff))).toBe(true);
  });

  it('copies fragments so a reused receive buffer cannot corrupt a message', () => {
    const r = new Reassembler(100);
    const buf = new Uint8Array([9, 9]);
    r.push(buf, true);
    buf.fill(0);
    expect(r.push(new Uint8Array([1]), false)).toEqual(new Uint8Array([9, 9, 1]));
  });
});
