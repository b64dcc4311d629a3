import fc from 'fast-check';
import { type ConfState, type Entry, MAX_LOG_POSITION, type Message, MessageType, type Snapshot } from '../src/index.js';

/** Terms and indexes: mostly small, sometimes near the largest one decoders accept, zero included. */
export const arbNum = fc.oneof(
  { weight: 5, arbitrary: fc.nat({ max: 1000 }) },
  { weight: 2, arbitrary: fc.nat({ max: 2 ** 32 }) },
  { weight: 1, arbitrary: fc.integer({ min: MAX_LOG_POSITION - 1000, max: MAX_LOG_POSITION }) },
  { weight: 1, arbitrary: fc.constant(0) },
);

/** 64-bit IDs: zero, small, around 2^53, up to 2^64-1. */
export const arbId = fc.oneof(
  fc.constant(0n),
  fc.bigInt({ min: 1n, max: 16n }),
  fc.bigInt({ min: 2n ** 53n - 2n, max: 2n ** 53n + 2n }),
  fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
);

export const arbBytes = fc.oneof(
  { weight: 3, arbitrary: fc.uint8Array({ maxLength: 64 }) },
  { weight: 1, arbitrary: fc.uint8Array({ minLength: 200, maxLength: 2000 }) },
  { weight: 1, arbitrary: fc.constant(new Uint8Array(0)) },
);

export const arbEntry: fc.Arbitrary<Entry> = fc.record({
  type: fc.constantFrom(0, 1, 2),
  term: arbNum,
  index: arbNum,
  data: arbBytes,
});

const arbIds = fc.array(arbId, { maxLength: 5 });

export const arbConfState: fc.Arbitrary<ConfState> = fc.record({
  voters: arbIds,
  learners: arbIds,
  votersOutgoing: arbIds,
  learnersNext: arbIds,
  autoLeave: fc.boolean(),
});

export const arbSnapshot: fc.Arbitrary<Snapshot | null> = fc.option(
  fc.record({ data: arbBytes, metadata: fc.record({ confState: arbConfState, index: arbNum, term: arbNum }) }),
  { nil: null },
);

const arbType = fc.constantFrom(...Object.values(MessageType));

function arbMessageAt(depth: number): fc.Arbitrary<Message> {
  return fc.record({
    type: arbType,
    to: arbId,
    from: arbId,
    term: arbNum,
    logTerm: arbNum,
    index: arbNum,
    entries: fc.array(arbEntry, { maxLength: 6 }),
    commit: arbNum,
    vote: arbId,
    snapshot: arbSnapshot,
    reject: fc.boolean(),
    rejectHint: arbNum,
    context: arbBytes,
    responses: depth >= 2 ? fc.constant([]) : fc.array(arbMessageAt(depth + 1), { maxLength: 2 }),
  });
}

export const arbMessage: fc.Arbitrary<Message> = arbMessageAt(0);
