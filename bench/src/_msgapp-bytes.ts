import { MsgAppEncoder, MessageType, cborMessageCodec, createEntry, createMessage } from '../../packages/core/src/index.js';

/** Wire bytes of `count` flood MsgApps of `perMsg` entries of `entryBytes` on a fresh msgapp stream (what member.ts sends). */
export function msgappWireBytes(count: number, entryBytes: number, perMsg = 1): number {
  const enc = new MsgAppEncoder({ from: 1n, to: 2n }, cborMessageCodec);
  const data = new Uint8Array(entryBytes).fill(0x61);
  let total = 0;
  for (let sent = 0, index = 0; sent < count; sent++, index += perMsg) {
    const first = index;
    const m = createMessage({
      type: MessageType.MsgApp,
      from: 1n,
      to: 2n,
      term: 1,
      logTerm: 1,
      index: first,
      commit: first,
      entries: Array.from({ length: perMsg }, (_, k) => createEntry({ term: 1, index: first + k + 1, data })),
    });
    total += enc.encode(m).length;
  }
  return total;
}
