/**
 * Terms and indexes above MAX_LOG_POSITION (2^53 − 2^20) are refused by every decoder with
 * ERR_DECODE: a forged term of 2^53 − 1 adopted by a member would make its next vote (term + 1)
 * unrepresentable, so the cluster could never elect a leader again.
 */
import { describe, expect, it } from 'vitest';
import {
  ErrorCode,
  MAX_LOG_POSITION,
  type Message,
  MessageType,
  MsgAppDecoder,
  MsgAppEncoder,
  cborMessageCodec,
  createMessage,
  createSnapshot,
  messagesEqual,
} from '../src/index.js';
import { EtcdMsgAppDecoder, EtcdMsgAppEncoder, etcdMessageCodec } from '../src/etcd/index.js';
import { errorCode } from './helpers.js';

const TOP = Number.MAX_SAFE_INTEGER; // 2^53 − 1: encodable, refused on decode
const peers = { from: 1n, to: 2n };
const ent = (term: number, index: number) => ({ type: 0 as const, term, index, data: Uint8Array.of(1) });

/** One message per bounded field, each with that field just above the bound. */
function overTheTop(v: number): [string, Message][] {
  const m = (init: Partial<Message>) => createMessage({ type: MessageType.MsgApp, from: 1n, to: 2n, ...init });
  return [
    ['term', createMessage({ type: MessageType.MsgHeartbeat, from: 1n, to: 2n, term: v })],
    ['logTerm', createMessage({ type: MessageType.MsgPreVote, from: 1n, to: 2n, term: 3, logTerm: v })],
    ['index', createMessage({ type: MessageType.MsgVote, from: 1n, to: 2n, term: 3, index: v })],
    ['commit', m({ term: 3, commit: v })],
    ['rejectHint', createMessage({ type: MessageType.MsgAppResp, from: 2n, to: 1n, term: 3, reject: true, rejectHint: v })],
    ['entry term', m({ term: 3, logTerm: 3, index: 1, entries: [ent(v, 2)] })],
    ['entry index', m({ term: 3, logTerm: 3, index: 1, entries: [ent(3, v)] })],
    [
      'snapshot index',
      createMessage({
        type: MessageType.MsgSnap,
        from: 1n,
        to: 2n,
        term: 3,
        snapshot: createSnapshot({
          metadata: {
            index: v,
            term: 3,
            confState: { voters: [1n], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false },
          },
        }),
      }),
    ],
  ];
}

describe('terms and indexes are bounded at decode', () => {
  for (const [name, codec] of [
    ['native CBOR', cborMessageCodec],
    ['etcd protobuf', etcdMessageCodec],
  ] as const) {
    it(`${name}: every term or index field above 2^53 − 2^20 is ERR_DECODE; the bound itself decodes`, () => {
      for (const [field, m] of overTheTop(TOP)) {
        expect(
          errorCode(() => codec.decode(codec.encode(m))),
          field,
        ).toBe(ErrorCode.DECODE);
        expect(
          errorCode(() => codec.decode(codec.encode(overTheTop(MAX_LOG_POSITION + 1).find(([f]) => f === field)?.[1] as Message))),
          field,
        ).toBe(ErrorCode.DECODE);
        const ok = overTheTop(MAX_LOG_POSITION).find(([f]) => f === field)?.[1] as Message;
        expect(messagesEqual(codec.decode(codec.encode(ok)), ok), field).toBe(true);
      }
    });
  }

  it('msgapp streams (native and etcd): an AppEntries frame cannot carry a term, index or commit above the bound', () => {
    const cases: [string, (t: number, i: number, c: number) => Message[]][] = [
      ['entry term', (t) => [app(3, 1, [ent(3, 2)], 2), app(3, 2, [ent(t, 3)], 2)]],
      ['commit', (_t, _i, c) => [app(3, 1, [ent(3, 2)], 2), app(3, 2, [ent(3, 3)], c)]],
    ];
    for (const [Enc, Dec] of [
      [MsgAppEncoder, MsgAppDecoder],
      [EtcdMsgAppEncoder, EtcdMsgAppDecoder],
    ] as const) {
      for (const [what, build] of cases) {
        const enc = new Enc(peers);
        const dec = new Dec(peers);
        const [first, second] = build(TOP, TOP, TOP) as [Message, Message];
        expect(dec.push(enc.encode(first))).toHaveLength(1);
        const frame = enc.encode(second);
        expect(frame[0], `${Enc.name} ${what}: AppEntries frame`).toBe(0x01);
        expect(
          errorCode(() => dec.push(frame)),
          `${Enc.name} ${what}`,
        ).toBe(ErrorCode.DECODE);
      }
      // The index of an AppEntries frame continues the previous frame's: one at the bound cannot be followed.
      const enc = new Enc(peers);
      const dec = new Dec(peers);
      dec.push(enc.encode(app(3, MAX_LOG_POSITION - 1, [ent(3, MAX_LOG_POSITION)], 2)));
      const frame = enc.encode(app(3, MAX_LOG_POSITION, [ent(3, MAX_LOG_POSITION + 1)], 2));
      expect(frame[0]).toBe(0x01);
      expect(
        errorCode(() => dec.push(frame)),
        `${Enc.name} entry index`,
      ).toBe(ErrorCode.DECODE);
    }
  });
});

function app(term: number, index: number, entries: ReturnType<typeof ent>[], commit: number): Message {
  return createMessage({ type: MessageType.MsgApp, from: 1n, to: 2n, term, logTerm: term, index, entries, commit });
}
