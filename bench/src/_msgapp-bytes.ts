import { type Message, MessageType, MsgAppEncoder, cborMessageCodec, createEntry, createMessage } from '../../packages/core/src/index.js';

/** One flood MsgApp as member.ts sends it: `perMsg` entries of `data` after index `first`. */
export function floodMsgApp(first: number, data: Uint8Array, perMsg: number): Message {
  return createMessage({
    type: MessageType.MsgApp,
    from: 1n,
    to: 2n,
    term: 1,
    logTerm: 1,
    index: first,
    commit: first,
    entries: Array.from({ length: perMsg }, (_, k) => createEntry({ term: 1, index: first + k + 1, data })),
  });
}

/** Wire bytes of `count` flood MsgApps of `perMsg` entries of `entryBytes` on a fresh msgapp stream (what member.ts sends). */
export function msgappWireBytes(count: number, entryBytes: number, perMsg = 1): number {
  const enc = new MsgAppEncoder({ from: 1n, to: 2n }, cborMessageCodec);
  const data = new Uint8Array(entryBytes).fill(0x61);
  let total = 0;
  for (let sent = 0, index = 0; sent < count; sent++, index += perMsg) total += enc.encode(floodMsgApp(index, data, perMsg)).length;
  return total;
}
