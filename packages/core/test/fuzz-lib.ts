import {
  FrameDecoder,
  type Message,
  MessageStreamDecoder,
  MessageStreamEncoder,
  MessageType,
  MsgAppDecoder,
  MsgAppEncoder,
  RaftwireError,
  cborMessageCodec,
  createMessage,
} from '../src/index.js';
import { seededRandom } from '../src/testing/memory-link.js';

/** A seeded PRNG, so every failure reproduces from its seed. */
const prng = seededRandom;

export type DecoderName = 'message' | 'frame' | 'message-stream' | 'msgapp';
export const DECODERS: DecoderName[] = ['message', 'frame', 'message-stream', 'msgapp'];

/** Valid seed inputs that mutations start from. */
function seeds(): Record<DecoderName, Uint8Array[]> {
  const msgs: Message[] = [];
  for (let i = 0; i < 8; i++) {
    msgs.push(
      createMessage({
        type: MessageType.MsgApp,
        from: 1n,
        to: 2n,
        term: 3,
        logTerm: 3,
        index: 10 + i,
        commit: 9 + i,
        entries: [{ type: 0, term: 3, index: 11 + i, data: new Uint8Array(i * 7).fill(i) }],
      }),
    );
  }
  msgs.push(createMessage({ type: MessageType.MsgHeartbeat, from: 1n, to: 2n, term: 3, commit: 17 }));
  msgs.push(
    createMessage({
      type: MessageType.MsgVote,
      from: 0xffffffffffffffffn,
      to: 2n,
      term: 4,
      logTerm: 3,
      index: 17,
      context: Uint8Array.of(1, 2),
    }),
  );
  const ms = new MessageStreamEncoder();
  const ma = new MsgAppEncoder({ from: 1n, to: 2n });
  const concat = (parts: Uint8Array[]) => {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  };
  return {
    message: msgs.map((m) => cborMessageCodec.encode(m)),
    frame: [concat(msgs.map((m) => ms.encode(m)))],
    'message-stream': [concat(msgs.map((m) => ms.encode(m)))],
    msgapp: [concat(msgs.map((m) => ma.encode(m)))],
  };
}

/** Byte runs that make a decoder read a huge length or count: CBOR heads, varint continuations. */
export const INTERESTING_BYTES: readonly (readonly number[])[] = [
  [0x9b, 0xff, 0xff, 0xff, 0xff],
  [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f],
  [0x5b, 0, 0, 0, 1],
  [0xc2],
  [0xd8, 0x40],
];

/** 1 to 4 random edits of `input`: byte changes, bit flips, insertions, deletions, truncation, interesting runs. */
export function mutate(input: Uint8Array, rnd: () => number, interesting: readonly (readonly number[])[] = INTERESTING_BYTES): Uint8Array {
  const out = Array.from(input);
  const edits = 1 + Math.floor(rnd() * 4);
  for (let e = 0; e < edits; e++) {
    const at = Math.floor(rnd() * (out.length + 1));
    const op = Math.floor(rnd() * 6);
    if (op === 0 && out.length) out[at % out.length] = Math.floor(rnd() * 256);
    else if (op === 1 && out.length) out[at % out.length] = (out[at % out.length] as number) ^ (1 << Math.floor(rnd() * 8));
    else if (op === 2) out.splice(at, 0, Math.floor(rnd() * 256));
    else if (op === 3) out.splice(at, 1 + Math.floor(rnd() * 8));
    else if (op === 4) out.length = Math.floor(rnd() * out.length);
    else out.splice(at, 0, ...(interesting[Math.floor(rnd() * interesting.length)] as number[]));
  }
  return Uint8Array.from(out);
}

export function randomBytes(rnd: () => number): Uint8Array {
  const n = Math.floor(rnd() * 64);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.floor(rnd() * 256);
  return out;
}

/** Feeds `input` to a fresh decoder of the given kind, split into random chunks. */
function feed(name: DecoderName, input: Uint8Array, rnd: () => number): void {
  const limits = { maxFrameBytes: 1 << 16 };
  if (name === 'message') {
    cborMessageCodec.decode(input);
    return;
  }
  const dec =
    name === 'frame'
      ? new FrameDecoder(limits)
      : name === 'message-stream'
        ? new MessageStreamDecoder(undefined, limits)
        : new MsgAppDecoder({ from: 1n, to: 2n }, undefined, { ...limits, maxEntries: 1024, maxEntryBytes: 1 << 12 });
  let at = 0;
  while (at < input.length) {
    const n = 1 + Math.floor(rnd() * 32);
    dec.push(input.subarray(at, at + n));
    at += n;
  }
  dec.end();
}

export interface FuzzResult {
  cases: number;
  typedErrors: number;
  ok: number;
}

/** A decoder under fuzz: valid inputs to mutate, and how to feed one input (split as it likes). */
export interface FuzzTarget {
  seeds: readonly Uint8Array[];
  feed(input: Uint8Array, rnd: () => number): void;
  /** Byte runs the mutations insert (default {@link INTERESTING_BYTES}). */
  interesting?: readonly (readonly number[])[];
}

/**
 * Runs `cases` random and mutated inputs through one decoder. Returns counts;
 * throws (with the seed and the input in hex) on anything but a RaftwireError.
 */
export function fuzzTarget(name: string, target: FuzzTarget, cases: number, seed: number): FuzzResult {
  const rnd = prng(seed);
  const pool = target.seeds;
  const result: FuzzResult = { cases, typedErrors: 0, ok: 0 };
  for (let i = 0; i < cases; i++) {
    const input = rnd() < 0.2 ? randomBytes(rnd) : mutate(pool[Math.floor(rnd() * pool.length)] as Uint8Array, rnd, target.interesting);
    try {
      target.feed(input, rnd);
      result.ok++;
    } catch (err) {
      if (!(err instanceof RaftwireError)) {
        const hex = Array.from(input, (b) => b.toString(16).padStart(2, '0')).join('');
        throw new Error(`${name} decoder threw a non-RaftwireError (seed ${seed}, case ${i}, input ${hex}): ${String(err)}`, {
          cause: err,
        });
      }
      result.typedErrors++;
    }
  }
  return result;
}

/** {@link fuzzTarget} for one of the native decoders. */
export function fuzz(name: DecoderName, cases: number, seed: number): FuzzResult {
  return fuzzTarget(name, { seeds: seeds()[name], feed: (input, rnd) => feed(name, input, rnd) }, cases, seed);
}
