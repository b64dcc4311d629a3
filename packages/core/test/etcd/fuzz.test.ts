import { describe, expect, it } from 'vitest';
import {
  EtcdFrameDecoder,
  EtcdMessageStreamDecoder,
  EtcdMessageStreamEncoder,
  EtcdMsgAppDecoder,
  EtcdMsgAppEncoder,
  EtcdSnapshotDecoder,
  LINK_HEARTBEAT,
  type Message,
  MessageType,
  createMessage,
  createSnapshot,
  decodeEtcdConfChange,
  decodeEtcdConfChangeV2,
  decodeEtcdConfState,
  decodeEtcdEntry,
  decodeEtcdHardState,
  decodeEtcdMember,
  decodeEtcdMemberList,
  decodeEtcdSnapshot,
  decodeEtcdVersions,
  encodeEtcdConfChange,
  encodeEtcdConfChangeV2,
  encodeEtcdEntry,
  encodeEtcdHardState,
  encodeEtcdSnapshotEnvelope,
  encodeEtcdVersions,
  etcdMessageCodec,
} from './src.js';
import { type FuzzTarget, INTERESTING_BYTES, fuzzTarget } from '../fuzz-lib.js';
import { concat } from '../helpers.js';
import { type LiveAddedMember, fixtureJson, hex } from './fixtures.js';

const CASES = 50_000;
const SEED = Number(process.env.RAFTWIRE_FUZZ_SEED ?? 20261202);

/** Runs that make an etcd decoder read a huge u64 length or count, a 10-byte varint, a group, a length past the end. */
const ETCD_INTERESTING: readonly (readonly number[])[] = [
  ...INTERESTING_BYTES,
  [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
  [0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00],
  [0x00, 0x00, 0x00, 0x00, 0x20, 0x00, 0x00, 0x01],
  [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
  [0x3a, 0xff, 0xff, 0xff, 0xff, 0x0f],
  [0xa3, 0x06],
  [0x0c],
];

const JSON_INTERESTING: readonly (readonly number[])[] = [
  ...['18446744073709551616', '-1', '1e999', '[[[[[[[[', '"\\u', '\\ud800', 'null', '{"id":', ',"peerURLs":[', '"', '\u2028'].map((s) =>
    Array.from(new TextEncoder().encode(s)),
  ),
];

const peers = { from: 1n, to: 2n };

function messages(): Message[] {
  const msgs: Message[] = [];
  for (let i = 0; i < 4; i++) {
    msgs.push(
      createMessage({
        type: MessageType.MsgApp,
        from: 1n,
        to: 2n,
        term: 3,
        logTerm: 3,
        index: 10 + i,
        commit: 9 + i,
        entries: [{ type: 0, term: 3, index: 11 + i, data: new Uint8Array(i * 3).fill(i) }],
      }),
    );
  }
  msgs.push(createMessage({ type: MessageType.MsgHeartbeat, from: 1n, to: 2n, term: 3, commit: 17, context: Uint8Array.of(9) }));
  msgs.push(
    createMessage({
      type: MessageType.MsgVote,
      from: (1n << 64n) - 1n,
      to: 2n,
      term: 4,
      logTerm: 3,
      index: 17,
      reject: true,
      rejectHint: 5,
    }),
  );
  msgs.push(
    createMessage({
      type: MessageType.MsgSnap,
      from: 1n,
      to: 2n,
      term: 4,
      snapshot: createSnapshot({
        data: Uint8Array.of(1, 2, 3),
        metadata: {
          index: 50,
          term: 4,
          confState: { voters: [1n, 2n], learners: [3n], votersOutgoing: [4n], learnersNext: [5n], autoLeave: true },
        },
      }),
    }),
  );
  msgs.push(LINK_HEARTBEAT);
  return msgs;
}

/** Feeds `input` to `push` in random chunks of 1 to 32 bytes. */
function chunked(input: Uint8Array, rnd: () => number, push: (c: Uint8Array) => unknown): void {
  let at = 0;
  while (at < input.length) {
    const n = 1 + Math.floor(rnd() * 32);
    push(input.subarray(at, at + n));
    at += n;
  }
}

const live = fixtureJson<LiveAddedMember>('live-added-member.json');
const msgs = messages();
const streamEnc = new EtcdMessageStreamEncoder();
/** Small seeds keep each mutation cheap: single frames and a few short runs of them. */
const frames = msgs.map((m) => streamEnc.encode(m));
const streamSeeds = [...frames, concat(frames.slice(0, 3)), concat(frames.slice(3))];
const snapMsg = msgs.find((m) => m.type === MessageType.MsgSnap) as Message;
const appEnc = new EtcdMsgAppEncoder(peers);
/** Full frame, AppEntries frames, link heartbeat, full frames of other types; each alone is valid too. */
const appFrames = msgs.map((m) => appEnc.encode(m));
const msgappSeeds = [...appFrames, concat(appFrames)];
const small = { maxFrameBytes: 1 << 16 };
const utf8 = (s: string) => new TextEncoder().encode(s);

const TARGETS: Record<string, FuzzTarget> = {
  'raftpb message': {
    seeds: [...msgs.map((m) => etcdMessageCodec.encode(m)), ...live.pipeline.map((p) => hex(p.hex))],
    feed: (input) => etcdMessageCodec.decode(input),
    interesting: ETCD_INTERESTING,
  },
  'raftpb parts': {
    seeds: [
      encodeEtcdEntry({ type: 2, term: 5, index: 9, data: Uint8Array.of(1, 2) }),
      encodeEtcdHardState({ term: 5, vote: 3n, commit: 9 }),
      etcdMessageCodec.encode(snapMsg).subarray(24),
    ],
    feed: (input) => {
      decodeEtcdEntry(input);
      // each decoder on its own: the first to throw ends the case
      const all = [decodeEtcdSnapshot, decodeEtcdConfState, decodeEtcdHardState];
      for (const f of all) f(input);
    },
    interesting: ETCD_INTERESTING,
  },
  'conf change': {
    seeds: [
      encodeEtcdConfChange({ id: 77n, type: 3, nodeId: (1n << 63n) + 5n, context: utf8('{"id":1,"peerURLs":["http://127.0.0.1:1"]}') }),
      encodeEtcdConfChangeV2({
        transition: 1,
        changes: [
          { type: 0, nodeId: 4n },
          { type: 1, nodeId: 5n },
        ],
        context: Uint8Array.of(1),
      }),
    ],
    feed: (input, rnd) => {
      if (rnd() < 0.5) decodeEtcdConfChange(input);
      else decodeEtcdConfChangeV2(input);
    },
    interesting: ETCD_INTERESTING,
  },
  'u64 frames': {
    seeds: streamSeeds,
    feed: (input, rnd) => {
      const dec = new EtcdFrameDecoder(small);
      chunked(input, rnd, (c) => dec.push(c));
      dec.end();
    },
    interesting: ETCD_INTERESTING,
  },
  'message stream': {
    seeds: streamSeeds,
    feed: (input, rnd) => {
      const dec = new EtcdMessageStreamDecoder(small);
      chunked(input, rnd, (c) => dec.push(c));
      dec.end();
    },
    interesting: ETCD_INTERESTING,
  },
  msgappv2: {
    seeds: msgappSeeds,
    feed: (input, rnd) => {
      const dec = new EtcdMsgAppDecoder(peers, { ...small, maxEntries: 1024, maxEntryBytes: 1 << 12 });
      chunked(input, rnd, (c) => dec.push(c));
      dec.end();
    },
    interesting: ETCD_INTERESTING,
  },
  'snapshot body': {
    seeds: [concat([encodeEtcdSnapshotEnvelope(snapMsg), new Uint8Array(40).fill(3)]), encodeEtcdSnapshotEnvelope(snapMsg)],
    feed: (input, rnd) => {
      const dec = new EtcdSnapshotDecoder({ maxEnvelopeBytes: 1 << 16, maxBodyBytes: 1 << 12 });
      chunked(input, rnd, (c) => dec.push(c));
      dec.end();
    },
    interesting: ETCD_INTERESTING,
  },
  'member JSON': {
    seeds: [
      utf8(`[${live.members.slice(1, live.members.indexOf('},{') + 1)}]\n`),
      utf8('{"id":1,"peerURLs":[],"name":"\\u003c\\n","clientURLs":["u"]}'),
      utf8('{"id":10290735599441857794,"peerURLs":["http://127.0.0.1:47690"],"isLearner":true}'),
      encodeEtcdVersions(),
    ],
    feed: (input, rnd) => {
      const r = rnd();
      if (r < 0.4) decodeEtcdMemberList(input);
      else if (r < 0.8) decodeEtcdMember(input);
      else decodeEtcdVersions(input);
    },
    interesting: JSON_INTERESTING,
  },
};

describe('etcd decoder fuzzing', () => {
  it.each(Object.keys(TARGETS))(
    `the etcd %s decoder answers ${CASES} random and mutated inputs with results or typed errors only`,
    (name) => {
      const r = fuzzTarget(name, TARGETS[name] as FuzzTarget, CASES, SEED);
      expect(r.ok + r.typedErrors).toBe(CASES);
      // Both outcomes must actually occur, or the mutations are not exercising the decoder.
      expect(r.typedErrors).toBeGreaterThan(CASES / 100);
      expect(r.ok).toBeGreaterThan(CASES / 100);
    },
    120_000,
  );
});
