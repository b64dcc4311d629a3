/**
 * Real Transports over the HTTP adapter on 127.0.0.1: every message type
 * among three members and a cut in the middle of a stream. What every link
 * shares (a removed member told within a second, ...) is in the compliance
 * suite (transport-compliance.test.ts).
 */
import { type Message, MessageType, createEntry, createMessage, createSnapshot, messageTypeName, messagesEqual } from '@raftwire/core';
import { waitFor } from '@raftwire/core/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { type HttpMember, httpCluster, streamsWorking } from './http-cluster.js';

/** One message of `type` from `from` to `to` with every field it can carry set to something non-zero. */
function sample(type: MessageType, from: bigint, to: bigint, n: number): Message {
  const data = new TextEncoder().encode(`${messageTypeName(type)} ${from}→${to} #${n}`);
  const base: Partial<Message> = {
    from,
    to,
    term: 7 + n,
    logTerm: 6 + n,
    index: 100 + n,
    commit: 99 + n,
    vote: from,
    reject: n % 2 === 1,
    rejectHint: n,
    context: new Uint8Array([n, 255, 0]),
  };
  switch (type) {
    case MessageType.MsgApp:
      return createMessage({
        ...base,
        type,
        entries: [createEntry({ term: 7 + n, index: 101 + n, data }), createEntry({ type: 1, term: 7 + n, index: 102 + n, data })],
      });
    case MessageType.MsgProp:
      return createMessage({ ...base, type, entries: [createEntry({ data })] });
    case MessageType.MsgSnap:
      return createMessage({
        ...base,
        type,
        snapshot: createSnapshot({
          data: new Uint8Array(4096).map((_, i) => (i * 7 + n) & 255),
          metadata: {
            index: 1000 + n,
            term: 7,
            confState: { voters: [1n, 2n, 3n], learners: [9n], votersOutgoing: [1n], learnersNext: [], autoLeave: true },
          },
        }),
      });
    case MessageType.MsgStorageAppend:
      return createMessage({
        ...base,
        type,
        entries: [createEntry({ term: 1, index: 1, data })],
        responses: [createMessage({ type: MessageType.MsgAppResp, from: to, to: from, term: 3, index: 4 })],
      });
    default:
      return createMessage({ ...base, type, entries: n % 3 === 0 ? [createEntry({ term: 1, index: 2, data })] : [] });
  }
}

describe('Transport over HTTP (in process, 127.0.0.1)', () => {
  let close: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await close?.();
    close = undefined;
  });

  it('three members exchange every message type, each equal field for field at the remote process()', { timeout: 60_000 }, async () => {
    const c = await httpCluster(3);
    close = c.close;
    const ms = c.members;
    for (const a of ms) for (const b of ms) if (a !== b) await waitFor(() => streamsWorking(a, b), 'streams', 20_000);
    const types = Object.values(MessageType);
    expect(types.length).toBe(24);
    const sent = new Map<HttpMember, Message[]>(ms.map((m) => [m, []]));
    let n = 0;
    for (const a of ms) {
      for (const b of ms) {
        if (a === b) continue;
        const batch = types.map((t) => sample(t, a.id, b.id, n++));
        sent.get(b)!.push(...batch);
        a.transport.send(batch);
      }
    }
    for (const b of ms) {
      const expected = sent.get(b)!;
      await waitFor(() => b.raft.received.length >= expected.length, `all ${expected.length} messages at member ${b.id}`, 20_000);
      expect(b.raft.received.length).toBe(expected.length);
      // Streams and the pipeline may interleave: match each sent message to one received equal to it.
      const left = [...b.raft.received];
      for (const m of expected) {
        const i = left.findIndex((r) => messagesEqual(r, m));
        expect(i, `${messageTypeName(m.type)} from ${m.from} to ${m.to} arrived equal`).toBeGreaterThanOrEqual(0);
        left.splice(i, 1);
      }
      // MsgSnap went by the pipeline (a POST /raft), the rest by the streams.
      expect(b.raft.unreachable).toEqual([]);
    }
    for (const a of ms) expect(a.link.count('POST /raft')).toBeGreaterThanOrEqual(2);
  });

  it('a connection cut mid-stream: messages go by pipeline meanwhile, and the streams reconnect', { timeout: 60_000 }, async () => {
    const c = await httpCluster(2);
    close = c.close;
    const [a, b] = c.members as [HttpMember, HttpMember];
    await waitFor(() => streamsWorking(a, b) && streamsWorking(b, a), 'streams', 20_000);
    const pa = a.transport.get(b.id)!;
    const establishedBefore = pa.msgAppReader.established + pa.messageReader.established;
    const postsBefore = a.link.count('POST /raft');

    // A steady flow of MsgApps and heartbeats a → b; cut every connection of both servers mid-flow.
    let index = 0;
    let heartbeats = 0;
    let flowing = true;
    const flow = (async () => {
      while (flowing) {
        a.transport.send([
          createMessage({
            type: MessageType.MsgApp,
            from: a.id,
            to: b.id,
            term: 1,
            logTerm: 1,
            index,
            commit: index,
            entries: [createEntry({ term: 1, index: index + 1, data: new Uint8Array(512).fill(index & 255) })],
          }),
          createMessage({ type: MessageType.MsgHeartbeat, from: a.id, to: b.id, term: 1, commit: heartbeats++ }),
        ]);
        index++;
        await new Promise((r) => setTimeout(r, 2));
      }
    })();
    await waitFor(() => b.raft.received.length > 50, 'the flow to start', 10_000);
    a.server.server.closeAllConnections();
    b.server.server.closeAllConnections();
    const cutAt = b.raft.received.length;
    // Messages keep arriving through the cut (pipeline while the streams redial), and the streams come back.
    await waitFor(() => a.link.count('POST /raft') > postsBefore, 'a pipeline POST while the streams are down', 10_000);
    await waitFor(
      () => streamsWorking(a, b) && streamsWorking(b, a) && pa.msgAppReader.established + pa.messageReader.established > establishedBefore,
      'the streams to reconnect',
      20_000,
    );
    const afterReconnect = b.raft.received.length;
    await waitFor(() => b.raft.received.length > afterReconnect + 50, 'the flow over the new streams', 10_000);
    flowing = false;
    await flow;
    expect(b.raft.received.length).toBeGreaterThan(cutAt);
    const last = b.raft.received[b.raft.received.length - 1]!;
    expect([MessageType.MsgApp, MessageType.MsgHeartbeat]).toContain(last.type);
    // What was lost in the cut was reported, never corrupted: each MsgApp that arrived carries its own payload.
    for (const m of b.raft.received) {
      if (m.type === MessageType.MsgApp) expect(m.entries[0]?.data[0]).toBe(m.index & 255);
    }
  });
});
