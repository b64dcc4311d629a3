/**
 * No 'abort' listener outlives the request that added it, over real HTTP on 127.0.0.1: many
 * requests sharing one caller signal (whole and streamed bodies, streams released early),
 * then a Transport's pipeline and snapshot traffic over the same link, leave nothing on it.
 */
import { type Link, MessageType, type ProtocolHandler, Transport, createMessage, textResponse } from '@raftwire/core';
import { AbortListenerTracker, RecordingRaft, waitFor } from '@raftwire/core/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Resources, bytes, clients, readAll } from './helpers.js';

/** An endless stream body that ends when the requester goes. */
async function* ticks(signal: AbortSignal): AsyncGenerator<Uint8Array> {
  for (; !signal.aborted; await new Promise((r) => setTimeout(r, 5))) yield bytes('tick');
}

/** Answers a body's length; a stream path answers with {@link ticks}. */
const echo: ProtocolHandler = async (req) =>
  req.path.startsWith('/raft/stream/')
    ? { status: 200, headers: {}, body: ticks(req.signal) }
    : textResponse(200, `${(await readAll(req.body)).length}`);

async function* chunks(n: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < n; i++) yield new Uint8Array(1000);
}

describe.each(clients)('abort listeners over %s', (_name, makeLink) => {
  const tracker = new AbortListenerTracker();
  const r = new Resources();
  beforeEach(() => tracker.install());
  afterEach(async () => {
    await r.closeAll();
    tracker.uninstall();
  });

  it('many requests and streams on one caller signal leave no listener on it', async () => {
    const server = await r.server(echo);
    const link = r.link(makeLink());
    const caller = new AbortController();
    const signal = caller.signal;
    for (let round = 0; round < 10; round++) {
      await Promise.all([
        ...Array.from({ length: 10 }, async () => {
          const res = await link.request(server.url, { method: 'POST', path: '/raft', headers: {}, body: new Uint8Array(100), signal });
          await readAll(res.body);
        }),
        (async () => {
          const res = await link.request(server.url, { method: 'POST', path: '/raft/snapshot', headers: {}, body: chunks(20), signal });
          await readAll(res.body);
        })(),
        (async () => {
          const res = await link.openStream(server.url, { method: 'GET', path: '/raft/stream/message/1', headers: {}, signal });
          for await (const _ of res.body) break; // release the stream early
        })(),
      ]);
    }
    expect(tracker.on(signal)).toBe(0);
    expect(tracker.maxOnLiveSignal()).toBeLessThan(8);
  });

  it("a Transport's pipeline and snapshot traffic with one caller signal leaves none, and none at all after stop", async () => {
    const members: { id: bigint; url: string; raft: RecordingRaft; transport: Transport; link: Link }[] = [];
    for (const id of [1n, 2n]) {
      let handler: ProtocolHandler | undefined;
      const server = await r.server((req) => (handler ? handler(req) : Promise.resolve(textResponse(503, 'not yet'))));
      const link = r.link(makeLink());
      const raft = new RecordingRaft();
      const transport = new Transport({ id, clusterId: 0x1000n, urls: [server.url], link, raft });
      handler = transport.handler;
      transport.start();
      members.push({ id, url: server.url, raft, transport, link });
    }
    const [a, b] = members as [(typeof members)[0], (typeof members)[0]];
    r.defer(() => Promise.all(members.map((m) => m.transport.stop())).then(() => {}));
    a.transport.addPeer(b.id, [b.url]);
    b.transport.addPeer(a.id, [a.url]);
    const caller = new AbortController();
    for (let round = 0; round < 5; round++) {
      // MsgSnap always goes over the pipeline; sendSnapshot streams a body.
      a.transport.send(
        Array.from({ length: 20 }, (_, i) => createMessage({ type: MessageType.MsgSnap, from: a.id, to: b.id, term: i + 1 })),
      );
      const snaps = await Promise.all(
        Array.from({ length: 3 }, () =>
          a.transport.sendSnapshot(createMessage({ type: MessageType.MsgSnap, from: a.id, to: b.id }), chunks(5), 5000, caller.signal),
        ),
      );
      expect(snaps).toEqual(['finish', 'finish', 'finish']);
      await waitFor(() => b.raft.received.filter((m) => m.type === MessageType.MsgSnap).length >= (round + 1) * 23, `round ${round}`);
    }
    expect(tracker.on(caller.signal)).toBe(0);
    expect(tracker.maxOnLiveSignal()).toBeLessThan(32);
    await Promise.all(members.map((m) => m.transport.stop()));
    for (const m of members) await m.link.close?.();
    expect(tracker.on(caller.signal)).toBe(0);
    // The servers' halves of the streams end a moment after the clients went: wait for that, bounded.
    await waitFor(() => tracker.totalOnLiveSignals() === 0, 'every listener gone after stop', 5000);
  });
});
