// Codec benchmark: our CBOR message codec and msgapp stream codec beside etcd's
// encoding of the same messages (raftpb with protobufjs, etcd's msgappv2 frame
// layout) and beside JSON, all measured in this run.
import { type Entry, type Message, MessageType, MsgAppDecoder, MsgAppEncoder, cborMessageCodec, createMessage } from '@raftwire/core';
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
const PbEntry = root.lookupType('raftpb.Entry');

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

function pbEncode(m: Message): Uint8Array {
  return PbMessage.encode(toPb(m)).finish();
}
function pbDecode(b: Uint8Array): unknown {
  return PbMessage.decode(b);
}

// ---- etcd's msgappv2 AppEntries frame: 0x01 · u64 n · n × (u64 len · Entry pb) · u64 commit
function etcdAppEntries(m: Message): Uint8Array {
  const ents = m.entries.map((e) => PbEntry.encode({ Type: e.type, Term: e.term, Index: e.index, Data: e.data }).finish());
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
    out.push(PbEntry.decode(b.subarray(at, at + len)));
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
}

report('codec', results, 'protobufjs / etcd msgappv2 / JSON');
if (sink === 42) console.log('');
