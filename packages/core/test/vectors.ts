import { type Message, MessageType, createMessage, createSnapshot } from '../src/index.js';

/**
 * Golden vectors for the CBOR message codec: the exact bytes every platform
 * must produce and accept. The WebRTC adapter checks them in Chromium too.
 */
export interface Vector {
  name: string;
  message: Message;
  hex: string;
}

export const VECTORS: Vector[] = [
  {
    name: 'heartbeat',
    message: createMessage({ type: MessageType.MsgHeartbeat, to: 2n, from: 1n, term: 3, commit: 4 }),
    // [8, 2, 1, 3, 0, 0, [], 4]
    hex: '88080201030000' + '80' + '04',
  },
  {
    name: 'link heartbeat',
    message: createMessage({ type: MessageType.MsgHeartbeat }),
    hex: '8108',
  },
  {
    name: 'MsgApp with one entry',
    message: createMessage({
      type: MessageType.MsgApp,
      to: 2n,
      from: 1n,
      term: 5,
      logTerm: 5,
      index: 9,
      entries: [{ type: 0, term: 5, index: 10, data: Uint8Array.of(0xaa, 0xbb) }],
      commit: 9,
    }),
    // [3, 2, 1, 5, 5, 9, [[5, 10, h'aabb']], 9]
    hex: '88030201050509' + '81' + '83050a42aabb' + '09',
  },
  {
    name: 'IDs above 2^53',
    message: createMessage({
      type: MessageType.MsgVote,
      to: 0xbab38e47324729d5n,
      from: 0xffffffffffffffffn,
      term: 1,
      vote: 0x20000000000001n,
    }),
    // [5, uint64, uint64, 1, 0, 0, [], 0, uint64]
    hex: '89051bbab38e47324729d51bffffffffffffffff01000080001b0020000000000001',
  },
  {
    name: 'snapshot and context',
    message: createMessage({
      type: MessageType.MsgSnap,
      to: 3n,
      from: 1n,
      term: 7,
      snapshot: createSnapshot({
        data: Uint8Array.of(1),
        metadata: {
          index: 100,
          term: 6,
          confState: { voters: [1n, 2n, 3n], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false },
        },
      }),
      context: Uint8Array.of(0x63),
    }),
    // [7, 3, 1, 7, 0, 0, [], 0, 0, [h'01', 100, 6, [1,2,3]], false, 0, h'63']
    hex: '8d07030107000080000084410118640683010203f4004163',
  },
];
