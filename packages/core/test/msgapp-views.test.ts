import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Message, MessageType, MsgAppDecoder, MsgAppEncoder, createMessage, messagesEqual } from '../src/index.js';
import { concat, splitAt } from './helpers.js';

const peers = { from: 1n, to: 2n };

/**
 * MsgAppDecoder hands out entry `data` as views of the chunks it is fed (no copy) unless the
 * entry's data straddles a chunk boundary (then that entry alone is copied; msgapp-splits.test.ts
 * pins where views and copies fall). These properties pin
 * what that means for the chunks' owner (the adapter): the decoder never writes to a chunk, a view
 * lies wholly inside its own chunk, no two entries share bytes, and overwriting a chunk changes
 * exactly the entries that are views of it; so an adapter may hand the decoder only chunks it
 * never reuses (node:http does: adapters/test/http/chunk-ownership.test.ts).
 */
describe('msgapp decoder: entry data as views of the received chunks', () => {
  const arbStep = fc.record({
    sizes: fc.array(fc.nat({ max: 200 }), { maxLength: 6 }),
    seed: fc.nat({ max: 255 }),
    commit: fc.nat({ max: 1000 }),
  });

  it('never writes to a chunk, keeps each view inside its chunk, and only a reused chunk changes its views', () => {
    fc.assert(
      fc.property(fc.array(arbStep, { minLength: 1, maxLength: 30 }), fc.array(fc.nat(), { maxLength: 30 }), (steps, cuts) => {
        let index = 0;
        const msgs: Message[] = [];
        for (const s of steps) {
          const entries = s.sizes.map((size, i) => ({
            type: 0 as const,
            term: 1,
            index: index + i + 1,
            data: Uint8Array.from({ length: size }, (_, k) => (s.seed + i * 31 + k) & 0xff),
          }));
          msgs.push(createMessage({ type: MessageType.MsgApp, from: 1n, to: 2n, term: 1, logTerm: 1, index, entries, commit: s.commit }));
          index += entries.length;
        }
        const enc = new MsgAppEncoder(peers);
        const wire = concat(msgs.map((m) => enc.encode(m)));
        // Fresh memory per chunk, as node:http hands them out.
        const chunks = splitAt(
          wire,
          cuts.map((c) => c % (wire.length + 1)),
        ).map((c) => c.slice());
        const before = chunks.map((c) => c.slice());
        const dec = new MsgAppDecoder(peers);
        const got: Message[] = [];
        for (const c of chunks) got.push(...dec.push(c));
        dec.end();

        // Delivered as sent, after every later chunk went through the decoder too.
        expect(got.length).toBe(msgs.length);
        got.forEach((m, i) => {
          expect(messagesEqual(m, msgs[i] as Message)).toBe(true);
        });
        // The decoder wrote to no chunk.
        chunks.forEach((c, i) => {
          expect(c).toEqual(before[i]);
        });

        const entries = got.flatMap((m) => m.entries).filter((e) => e.data.length > 0);
        const owner = (d: Uint8Array): number => chunks.findIndex((c) => c.buffer === d.buffer);
        // Uncut, every AppEntries entry is a view: nothing was copied. (The first message, at
        // term 1 on a fresh stream, goes as a full frame: the message codec copies its entries.)
        if (chunks.length === 1) {
          for (const e of got.slice(1).flatMap((m) => m.entries)) if (e.data.length > 0) expect(owner(e.data)).toBe(0);
        }
        const spans: [ArrayBufferLike, number, number][] = [];
        for (const e of entries) {
          const k = owner(e.data);
          if (k !== -1) {
            // A view: wholly inside its chunk.
            const c = chunks[k] as Uint8Array;
            expect(e.data.byteOffset).toBeGreaterThanOrEqual(c.byteOffset);
            expect(e.data.byteOffset + e.data.length).toBeLessThanOrEqual(c.byteOffset + c.length);
          }
          spans.push([e.data.buffer, e.data.byteOffset, e.data.byteOffset + e.data.length]);
        }
        // No two entries share a byte.
        for (let i = 0; i < spans.length; i++) {
          for (let j = i + 1; j < spans.length; j++) {
            const [ba, sa, ea] = spans[i] as [ArrayBufferLike, number, number];
            const [bb, sb, eb] = spans[j] as [ArrayBufferLike, number, number];
            if (ba === bb) expect(ea <= sb || eb <= sa).toBe(true);
          }
        }
        // What an adapter that reused chunk memory would do: overwrite a chunk. Exactly the
        // entries that are views of it change; copied entries and views of other chunks do not.
        if (chunks.length > 0) {
          const k = steps[0]!.seed % chunks.length;
          const copies = entries.map((e) => e.data.slice());
          (chunks[k] as Uint8Array).fill(0xee);
          entries.forEach((e, i) => {
            const isView = owner(e.data) === k;
            const changed = e.data.some((b, j) => b !== (copies[i] as Uint8Array)[j]);
            if (!isView) expect(changed).toBe(false);
            else if ((copies[i] as Uint8Array).some((b) => b !== 0xee)) expect(changed).toBe(true);
          });
        }
      }),
      { numRuns: 300 },
    );
  });
});
