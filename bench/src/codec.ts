// Codec benchmark: our CBOR message codec and msgapp stream codec beside etcd's
// encoding of the same messages (raftpb with protobufjs, etcd's msgappv2 frame
// layout) and beside JSON, all measured in this run.
import { type Entry, type Message, MessageType, MsgAppDecoder, MsgAppEncoder, cborMessageCodec, createMessage } from '@raftwire/core';
import { EtcdMsgAppDecoder, EtcdMsgAppEncoder, etcdMessageCodec } from '@raftwire/core/etcd';
import protobuf from 'protobufjs';
import { type Result, paired, report, result } from './report.js';

// ---- raftpb as etcd defines it (field numbers from raft/raftpb/raft.proto)
const root = protobuf.Root.fromJSON({
  nested: {
    raftpb: {
      nested: {
        Entry: {
          fields: {
            Term: { type: 'uint64', id: 2 },
            Index: { type: 'uint64', id: 3 },
            Type: { type: 'int32', id: 1 },
            Data: { type: 'bytes', id: 4 },
          },
        },
        ConfState: {
          fields: {
            voters: { rule: 'repeated', type: 'uint64', id: 1 },
            learners: { rule: 'repeated', type: 'uint64', id: 2 },
            voters_outgoing: { rule: 'repeated', type: 'uint64', id: 3 },
            learners_next: { rule: 'repeated', type: 'uint64', id: 4 },
            auto_leave: { type: 'bool', id: 5 },
          },
        },
        SnapshotMetadata: {
          fields: { conf_state: { type: 'ConfState', id: 1 }, index: { type: 'uint64', id: 2 }, term: { type: 'uint64', id: 3 } },
        },
        Snapshot: { fields: { data: { type: 'bytes', id: 1 }, metadata: { type: 'SnapshotMetadata', id: 2 } } },
        Message: {
          fields: {
            type: { type: 'int32', id: 1 },
            to: { type: 'uint64', id: 2 },
            from: { type: 'uint64', id: 3 },
            term: { type: 'uint64', id: 4 },
            logTerm: { type: 'uint64', id: 5 },
            index: { type: 'uint64', id: 6 },
            entries: { rule: 'repeated', type: 'Entry', id: 7 },
            commit: { type: 'uint64', id: 8 },
            vote: { type: 'uint64', id: 13 },
            snapshot: { type: 'Snapshot', id: 9 },
            reject: { type: 'bool', id: 10 },
            rejectHint: { type: 'uint64', id: 11 },
            context: { type: 'bytes', id: 12 },
          },
        },
      },
    },
  },
});
const PbMessage = root.lookupType('raftpb.Message');

/** The plain object protobufjs encodes: IDs as numbers (they are small here), like gogoproto's non-nullable fields. */
function toPb(m: Message) {
  return {
    type: m.type,
    to: Number(m.to),
    from: Number(m.from),
    term: m.term,
    logTerm: m.logTerm,
    index: m.index,
    entries: m.entries.map((e) => ({ Type: e.type, Term: e.term, Index: e.index, Data: e.data })),
    commit: m.commit,
  };
}

// proto2 (explicit presence, as etcd's schema is): a field set to zero is still written.
const proto2 = protobuf.parse(
  `syntax = "proto2"; package raftpb;
  message Entry { optional uint64 Term = 2; optional uint64 Index = 3; optional int32 Type = 1; optional bytes Data = 4; }
  message ConfState { repeated uint64 voters = 1; repeated uint64 learners = 2; repeated uint64 voters_outgoing = 3;
    repeated uint64 learners_next = 4; optional bool auto_leave = 5; }
  message SnapshotMetadata { optional ConfState conf_state = 1; optional uint64 index = 2; optional uint64 term = 3; }
  message Snapshot { optional bytes data = 1; optional SnapshotMetadata metadata = 2; }
  message Message { optional int32 type = 1; optional uint64 to = 2; optional uint64 from = 3; optional uint64 term = 4;
    optional uint64 logTerm = 5; optional uint64 index = 6; repeated Entry entries = 7; optional uint64 commit = 8;
    optional Snapshot snapshot = 9; optional bool reject = 10; optional uint64 rejectHint = 11; optional bytes context = 12; }`,
  { keepCase: true },
).root;
// Resolved up front: protobufjs otherwise looks nested types up again on every call.
proto2.resolveAll();
const Pb2Message = proto2.lookupType('raftpb.Message');
/** etcd writes an entry's Type even when it is EntryNormal (0), as proto2 does. */
const Pb2Entry = proto2.lookupType('raftpb.Entry');

/**
 * The same message as etcd's gogoproto code writes it: every non-nullable
 * field even when zero and an empty snapshot, so protobufjs produces exactly
 * the bytes of the etcd profile codec.
 */
function toGogoPb(m: Message) {
  return {
    ...toPb(m),
    snapshot: { metadata: { conf_state: { auto_leave: false }, index: 0, term: 0 } },
    reject: m.reject,
    rejectHint: m.rejectHint,
  };
}
function gogoEncode(m: Message): Uint8Array {
  return Pb2Message.encode(toGogoPb(m)).finish();
}
function gogoDecode(b: Uint8Array): unknown {
  return Pb2Message.decode(b);
}

function pbEncode(m: Message): Uint8Array {
  return PbMessage.encode(toPb(m)).finish();
}
function pbDecode(b: Uint8Array): unknown {
  return PbMessage.decode(b);
}

// ---- etcd's msgappv2 AppEntries frame: 0x01 · u64 n · n × (u64 len · Entry pb) · u64 commit
function etcdAppEntries(m: Message): Uint8Array {
  const ents = m.entries.map((e) => Pb2Entry.encode({ Type: e.type, Term: e.term, Index: e.index, Data: e.data }).finish());
  const size = 1 + 8 + ents.reduce((n, e) => n + 8 + e.length, 0) + 8;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  let at = 0;
  out[at++] = 0x01;
  view.setBigUint64(at, BigInt(ents.length));
  at += 8;
  for (const e of ents) {
    view.setBigUint64(at, BigInt(e.length));
    at += 8;
    out.set(e, at);
    at += e.length;
  }
  view.setBigUint64(at, BigInt(m.commit));
  return out;
}
function etcdAppEntriesDecode(b: Uint8Array): unknown[] {
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let at = 1;
  const n = Number(view.getBigUint64(at));
  at += 8;
  const out: unknown[] = [];
  for (let i = 0; i < n; i++) {
    const len = Number(view.getBigUint64(at));
    at += 8;
    out.push(Pb2Entry.decode(b.subarray(at, at + len)));
    at += len;
  }
  view.getBigUint64(at);
  return out;
}

function jsonEncode(m: Message): Uint8Array {
  return new TextEncoder().encode(
    JSON.stringify(m, (_k, v) =>
      typeof v === 'bigint' ? v.toString(16) : v instanceof Uint8Array ? Buffer.from(v).toString('base64') : v,
    ),
  );
}

// ---- the messages
const payloads = new Map<string, Uint8Array>();
/** Entry payloads are made once and shared, so building a message costs the same on both sides and little. */
const data = (n: number, seed: number) => {
  const key = `${n}:${seed}`;
  let d = payloads.get(key);
  if (!d) payloads.set(key, (d = Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff)));
  return d;
};
const entries = (count: number, size: number, first: number): Entry[] =>
  Array.from({ length: count }, (_, i) => ({ type: 0, term: 7, index: first + i, data: data(size, i) }));

const heartbeat = createMessage({ type: MessageType.MsgHeartbeat, from: 1n, to: 2n, term: 7, commit: 123_456 });
const app1 = createMessage({
  type: MessageType.MsgApp,
  from: 1n,
  to: 2n,
  term: 7,
  logTerm: 7,
  index: 123_456,
  commit: 123_450,
  entries: entries(1, 64, 123_457),
});
const app64 = createMessage({
  type: MessageType.MsgApp,
  from: 1n,
  to: 2n,
  term: 7,
  logTerm: 7,
  index: 123_456,
  commit: 123_450,
  entries: entries(64, 256, 123_457),
});
const cases: [string, Message][] = [
  ['heartbeat', heartbeat],
  ['MsgApp 1×64 B', app1],
  ['MsgApp 64×256 B', app64],
];

const results: Result[] = [];
let sink = 0;

// Message codec: encode and decode, ours vs protobufjs on the same message.
for (const [label, m] of cases) {
  const ours = cborMessageCodec.encode(m);
  const pb = pbEncode(m);
  const [encOurs, encPb] = paired(
    () => (sink += cborMessageCodec.encode(m).length),
    () => (sink += pbEncode(m).length),
  );
  const [decOurs, decPb] = paired(
    () => (sink += cborMessageCodec.decode(ours).term),
    () => (sink += (pbDecode(pb) as { term: number }).term ? 1 : 0),
  );
  const [rtOurs, rtPb] = paired(
    () => (sink += cborMessageCodec.decode(cborMessageCodec.encode(m)).term),
    () => (sink += pbDecode(pbEncode(m)) ? 1 : 0),
  );
  results.push(result(`${label}: encode`, 'msgs/s', encOurs, encPb, null));
  results.push(result(`${label}: encode`, 'MB/s', (encOurs * ours.length) / 1e6, (encPb * pb.length) / 1e6, null));
  results.push(result(`${label}: decode`, 'msgs/s', decOurs, decPb, null));
  results.push(result(`${label}: decode`, 'MB/s', (decOurs * ours.length) / 1e6, (decPb * pb.length) / 1e6, null));
  results.push(result(`${label}: encode+decode`, 'msgs/s', rtOurs, rtPb, '>= 1'));
  // The etcd profile: raftpb as etcd writes it, the very bytes protobufjs writes for the same fields.
  const etcdBytes = etcdMessageCodec.encode(m);
  if (Buffer.compare(etcdBytes, gogoEncode(m)) !== 0) throw new Error(`${label}: etcd profile bytes differ from protobufjs`);
  const [rtEtcd, rtGogo] = paired(
    () => (sink += etcdMessageCodec.decode(etcdMessageCodec.encode(m)).term),
    () => (sink += gogoDecode(gogoEncode(m)) ? 1 : 0),
  );
  results.push(result(`${label}: etcd profile encode+decode (same bytes)`, 'msgs/s', rtEtcd, rtGogo, '>= 1'));
}

// msgapp stream, steady state: consecutive MsgApps become AppEntries frames.
for (const [label, count, size] of [
  ['MsgApp 1×64 B', 1, 64],
  ['MsgApp 64×256 B', 64, 256],
] as const) {
  const peers = { from: 1n, to: 2n };
  const enc = new MsgAppEncoder(peers);
  const dec = new MsgAppDecoder(peers);
  let index = 1000;
  const next = () => {
    const m = createMessage({
      type: MessageType.MsgApp,
      from: 1n,
      to: 2n,
      term: 7,
      logTerm: 7,
      index,
      commit: index - 1,
      entries: entries(count, size, index + 1),
    });
    index += count;
    return m;
  };
  // first frame is full; the next ones are steady-state AppEntries
  dec.push(
    enc.encode(
      createMessage({ type: MessageType.MsgApp, from: 1n, to: 2n, term: 7, logTerm: 6, index: 999, entries: entries(1, size, 1000) }),
    ),
  );
  const sample = next();
  const frame = enc.encode(sample);
  dec.push(frame);
  if (frame[0] !== 0x01) throw new Error('steady-state MsgApp did not use an AppEntries frame');
  const etcdFrame = etcdAppEntries(sample);
  results.push(result(`${label}: wire bytes per steady-state frame vs etcd msgappv2`, 'bytes', frame.length, etcdFrame.length, '< 1'));
  results.push(result(`${label}: wire bytes per steady-state frame vs JSON`, 'bytes', frame.length, jsonEncode(sample).length, '< 1'));
  // Both sides encode and decode the same freshly built steady-state message each op.
  const [ours, etcd] = paired(
    () => {
      sink += dec.push(enc.encode(next())).length;
    },
    () => {
      sink += etcdAppEntriesDecode(etcdAppEntries(next())).length;
    },
  );
  results.push(result(`${label}: msgapp stream encode+decode vs etcd msgappv2/protobufjs`, 'frames/s', ours, etcd, '>= 1'));
  // The etcd profile's msgappv2: the same frame layout as the protobufjs baseline.
  const eenc = new EtcdMsgAppEncoder(peers);
  const edec = new EtcdMsgAppDecoder(peers);
  edec.push(
    eenc.encode(
      createMessage({
        type: MessageType.MsgApp,
        from: 1n,
        to: 2n,
        term: 7,
        logTerm: 6,
        index: index - 1,
        entries: entries(1, size, index),
      }),
    ),
  );
  const esample = next();
  const eframe = eenc.encode(esample);
  edec.push(eframe);
  if (Buffer.compare(eframe, etcdAppEntries(esample)) !== 0) throw new Error(`${label}: etcd profile AppEntries differs from the baseline`);
  const [etcdOurs, etcdPb] = paired(
    () => {
      sink += edec.push(eenc.encode(next())).length;
    },
    () => {
      sink += etcdAppEntriesDecode(etcdAppEntries(next())).length;
    },
  );
  results.push(result(`${label}: etcd profile msgappv2 encode+decode (same bytes)`, 'frames/s', etcdOurs, etcdPb, '>= 1'));
}

report('codec', results, 'protobufjs / etcd msgappv2 / JSON');
if (sink === 42) console.log('');
