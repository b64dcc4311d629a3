/**
 * The sending side of `pnpm bench edge`, run on Node, Deno or Bun: a Transport
 * (member 1) whose raft protocol is served by `createFetchHandler` on the
 * runtime's own server (Deno.serve / Bun.serve), or by `startRaftServer`
 * (node:http) under Node. Its msgapp stream is a response body the handler
 * writes frame by frame, which is what the bench measures.
 *
 * Args: `<receiverUrl> <count> <entryBytes> <perMsg>`. Prints `{"url"}` once it
 * listens, then `{"sent"}` once every MsgApp is handed to the stream, and
 * stays up until killed (the receiver reads the rest).
 */
import { createFetchHandler, FetchLink, fetchServerRuntime, serveFetch } from '@raftwire/adapters/http';
import { NodeHttpLink, startRaftServer } from '@raftwire/adapters/http/node';
import { createEntry, createMessage, type Link, type Message, MessageType, type ProtocolHandler, Transport } from '@raftwire/core';

const [receiverUrl = '', countText = '1000', entryBytesText = '1024', perMsgText = '1'] = process.argv.slice(2);
const count = Number(countText);
const entryBytes = Number(entryBytesText);
const perMsg = Number(perMsgText);
const runtime = fetchServerRuntime() ?? 'node';

let handler: ProtocolHandler | undefined;
const serve: ProtocolHandler = (req) => (handler ? handler(req) : Promise.resolve({ status: 503, headers: {} }));
let url: string;
let link: Link;
if (runtime === 'node') {
  url = (await startRaftServer({ handler: serve, host: '127.0.0.1', port: 0 })).url;
  link = new NodeHttpLink({});
} else {
  const raftFetch = createFetchHandler(serve);
  url = (await serveFetch(raftFetch.handle)).url;
  link = new FetchLink({});
}
const transport = new Transport({
  id: 1n,
  clusterId: 0x1000n,
  urls: [url],
  link,
  raft: { process() {}, isIdRemoved: () => false, reportUnreachable() {}, reportSnapshot() {}, async receiveSnapshot() {} },
});
handler = transport.handler;
transport.start();
transport.addPeer(2n, [receiverUrl]);
console.log(JSON.stringify({ url, runtime }));

const data = new Uint8Array(entryBytes).fill(0x61);
let sent = 0;
let index = 0;
while (sent < count) {
  // Keep the stream queue (4096) from overflowing: hand over at most 1024 at a time.
  const w = transport.get(2n)?.msgAppWriter;
  if (w === undefined || !w.working || w.queued > 2048) {
    await new Promise((r) => setTimeout(r, 0));
    continue;
  }
  const n = Math.min(Math.max(1, Math.floor(1024 / perMsg)), count - sent);
  const batch: Message[] = [];
  for (let i = 0; i < n; i++) {
    const first = index;
    batch.push(
      createMessage({
        type: MessageType.MsgApp,
        from: 1n,
        to: 2n,
        term: 1,
        logTerm: 1,
        index: first,
        commit: first,
        entries: Array.from({ length: perMsg }, (_, k) => createEntry({ term: 1, index: first + k + 1, data })),
      }),
    );
    index += perMsg;
    sent++;
  }
  transport.send(batch);
}
console.log(JSON.stringify({ sent }));
