import fc from 'fast-check';
import { type Message, type MessageType, type Snapshot, createMessage } from './src.js';
import { arbBytes, arbConfState, arbEntry, arbId, arbNum } from '../arbitraries.js';

/** MessageType 0–18: the ones etcd 3.4 knows. */
export const arbEtcdType = fc.integer({ min: 0, max: 18 }) as fc.Arbitrary<MessageType>;

export const arbEtcdSnapshot: fc.Arbitrary<Snapshot | null> = fc.option(
  fc.record({ data: arbBytes, metadata: fc.record({ confState: arbConfState, index: arbNum, term: arbNum }) }),
  { nil: null },
);

/** Any message etcd 3.4's raftpb can carry: no `vote`, no `responses`. */
export const arbEtcdMessage: fc.Arbitrary<Message> = fc.record({
  type: arbEtcdType,
  to: arbId,
  from: arbId,
  term: arbNum,
  logTerm: arbNum,
  index: arbNum,
  entries: fc.array(arbEntry, { maxLength: 6 }),
  commit: arbNum,
  vote: fc.constant(0n),
  snapshot: arbEtcdSnapshot,
  reject: fc.boolean(),
  rejectHint: arbNum,
  context: arbBytes,
  responses: fc.constant([]),
});

function isEmptySnapshot(s: Snapshot): boolean {
  const md = s.metadata;
  const cs = md.confState;
  return (
    s.data.length === 0 &&
    md.index === 0 &&
    md.term === 0 &&
    cs.voters.length + cs.learners.length + cs.votersOutgoing.length + cs.learnersNext.length === 0 &&
    !cs.autoLeave
  );
}

/** What the etcd codec gives back for `m`: an all-zero snapshot is `null` (etcd always writes one). */
export function normalized(m: Message): Message {
  return m.snapshot !== null && isEmptySnapshot(m.snapshot) ? createMessage({ ...m, snapshot: null }) : m;
}
