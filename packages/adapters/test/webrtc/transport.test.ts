/**
 * The real core `Transport` over the WebRTC adapter, Node ↔ Node, with each
 * Node WebRTC implementation: a 64 MiB snapshot does not hold up raft
 * heartbeats to the same peer, a killed peer connection is rebuilt and the
 * streams re-attach, all over the data channels. What every link shares (a
 * removed member told within a second, ...) is in the compliance suite
 * (transport-compliance.test.ts).
 */
import { type Message, MessageType, Transport, type TransportOptions, createMessage, createSnapshot } from '@raftwire/core';
import { RecordingRaft, patternBody, patternChecksum, waitFor } from '@raftwire/core/testing';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { InPageSignalingHub, WebRtcLink, webrtcUrl } from '../../src/webrtc/index.js';
import { nodePeerConnectionFactory } from '../../src/webrtc/node/index.js';
import { STACKS, assertLoopbackOnly } from './helpers.js';

beforeAll(assertLoopbackOnly);

const CLUSTER = 0x2000n;

interface Member {
  id: bigint;
  link: WebRtcLink;
  raft: RecordingRaft;
  transport: Transport;
}

function streamsUp(a: Member, b: Member): boolean {
  return !!(a.transport.get(b.id)?.streamsWorking && b.transport.get(a.id)?.streamsWorking);
}

const quantile = (xs: number[], q: number): number => {
  const s = [...xs].sort((x, y) => x - y);
  return s[Math.min(s.length - 1, Math.floor(s.length * q))] ?? Number.NaN;
};

describe.each(STACKS)('Transport over WebRTC (%s)', (stack) => {
  let members: Member[] = [];
  const timers: ReturnType<typeof setInterval>[] = [];

  afterEach(async () => {
    for (const t of timers.splice(0)) clearInterval(t);
    await Promise.all(members.map((m) => m.transport.stop()));
    await Promise.all(members.map((m) => m.link.close()));
    members = [];
  });

  async function pair(connect = true, extra: Partial<TransportOptions> = {}): Promise<[Member, Member]> {
    const hub = new InPageSignalingHub(CLUSTER);
    for (const id of [1n, 2n]) {
      const link = await WebRtcLink.create({
        localId: id,
        clusterId: CLUSTER,
        signaling: hub,
        peerConnectionFactory: nodePeerConnectionFactory({ stack }),
      });
      const raft = new RecordingRaft();
      const transport = new Transport({ ...extra, id, clusterId: CLUSTER, urls: [webrtcUrl(id)], link, raft } as TransportOptions);
      link.setHandler(transport.handler);
      transport.start();
      members.push({ id, link, raft, transport });
    }
    const [a, b] = members as [Member, Member];
    if (connect) {
      a.transport.addPeer(b.id, [webrtcUrl(b.id)]);
      b.transport.addPeer(a.id, [webrtcUrl(a.id)]);
      await waitFor(() => streamsUp(a, b), 'streams up both ways', 20_000);
    }
    return [a, b];
  }

  it('sends a 64 MiB snapshot while raft heartbeats to the same peer keep their period', async () => {
    const [a, b] = await pair();
    b.raft.keepSnapshotBytes = 0;
    const PERIOD = 100;
    const sentAt = new Map<number, number>();
    const rtts: { at: number; rtt: number }[] = [];
    /** Arrival time at b and how far the snapshot body had got there then. */
    const arrivals: { at: number; snapshotBytes: number }[] = [];
    b.raft.onMessage = (m) => {
      if (m.type !== MessageType.MsgHeartbeat) return;
      arrivals.push({ at: performance.now(), snapshotBytes: b.raft.snapshots[0]?.received ?? 0 });
      b.transport.send([createMessage({ type: MessageType.MsgHeartbeatResp, from: b.id, to: a.id, term: 1, commit: m.commit })]);
    };
    a.raft.onMessage = (m) => {
      const t = sentAt.get(m.commit);
      if (m.type === MessageType.MsgHeartbeatResp && t !== undefined) rtts.push({ at: t, rtt: performance.now() - t });
    };
    let seq = 0;
    timers.push(
      setInterval(() => {
        seq++;
        sentAt.set(seq, performance.now());
        a.transport.send([createMessage({ type: MessageType.MsgHeartbeat, from: a.id, to: b.id, term: 1, commit: seq })]);
      }, PERIOD),
    );
    await waitFor(() => rtts.length >= 10, 'ten idle heartbeat round trips', 10_000);
    const idle = rtts.map((r) => r.rtt);

    const size = 64 * 1024 * 1024;
    const msg = createMessage({
      type: MessageType.MsgSnap,
      from: a.id,
      to: b.id,
      term: 1,
      snapshot: createSnapshot({ metadata: { index: 1000, term: 1 } }),
    });
    const t0 = performance.now();
    const status = await a.transport.sendSnapshot(msg, patternBody(size, 256 * 1024), size);
    const t1 = performance.now();
    expect(status).toBe('finish');
    await waitFor(() => b.raft.received.some((m) => m.type === MessageType.MsgSnap), 'MsgSnap delivered', 10_000);
    const rec = b.raft.snapshots[0];
    expect(rec?.received).toBe(size);
    expect(rec?.checksum).toBe(await patternChecksum(size, 256 * 1024));

    const during = arrivals.filter((x) => x.at >= t0 && x.at <= t1);
    const gaps = during.slice(1).map((x, i) => x.at - (during[i] as { at: number }).at);
    const maxGap = Math.max(0, ...gaps);
    const busy = rtts.filter((r) => r.at >= t0 && r.at <= t1).map((r) => r.rtt);
    console.log(
      `[${stack}] 64 MiB snapshot via Transport: ${(size / 1e6 / ((t1 - t0) / 1000)).toFixed(1)} MB/s in ${(t1 - t0).toFixed(0)} ms; ` +
        `heartbeat RTT idle p50 ${quantile(idle, 0.5).toFixed(2)} max ${Math.max(...idle).toFixed(1)} ms, during p50 ${quantile(busy, 0.5).toFixed(2)} ` +
        `p99 ${quantile(busy, 0.99).toFixed(1)} max ${Math.max(0, ...busy).toFixed(1)} ms (${busy.length}); max arrival gap ${maxGap.toFixed(0)} ms`,
    );
    // Heartbeats were interleaved with the snapshot, not queued behind it: they reached b while its
    // body was in each eighth of the transfer (progress, not wall time: the machine may be loaded) ...
    const eighth = size / 8;
    for (let k = 1; k < 7; k++) {
      const inSegment = arrivals.filter((x) => x.snapshotBytes >= k * eighth && x.snapshotBytes < (k + 1) * eighth).length;
      expect(inSegment, `heartbeats while the snapshot was at ${k}/8`).toBeGreaterThan(0);
    }
    // ... and the period held. node-datachannel: measured gaps 106–138 ms for a 100 ms period on a
    // loaded 2-core machine, so four periods is a bound with margin. @roamhq/wrtc stalls its whole
    // association now and then under load (gaps of 130–450 ms measured, p99 round trips up to
    // 360 ms): for it the honest bound is that no heartbeat waits as long as an election timeout
    // (1 s at etcd's defaults).
    expect(maxGap).toBeLessThan(stack === 'roam' ? 1000 : 4 * PERIOD);
    expect(quantile(busy, 0.5)).toBeLessThan(stack === 'roam' ? 250 : 100);
  }, 90_000);

  it('rebuilds a killed peer connection and re-attaches every stream; messages flow again', async () => {
    const [a, b] = await pair();
    const attached: string[] = [];
    for (const m of [a, b]) m.transport.on('stream:attached', (e) => attached.push(`${m.id}:${e.type}:${e.direction}`));
    const first = a.link.connection(b.id);
    expect(first?.state).toBe('open');
    // Kill it abruptly on one side; the other learns from its channels closing. Only attachments
    // after the kill count.
    attached.length = 0;
    b.link.connection(a.id)?.peerConnection.close();
    await waitFor(() => first?.state === 'closed', 'member 1 to see the connection die', 10_000);
    const want = [
      '1:msgappv2:in',
      '1:msgappv2:out',
      '1:message:in',
      '1:message:out',
      '2:msgappv2:in',
      '2:msgappv2:out',
      '2:message:in',
      '2:message:out',
    ];
    await waitFor(() => want.every((w) => attached.includes(w)) && streamsUp(a, b), 'all four streams re-attached on both ends', 20_000);
    const second = a.link.connection(b.id);
    expect(second?.state).toBe('open');
    expect(second?.session).not.toBe(first?.session);
    expect(b.link.connection(a.id)?.session).toBe(second?.session);
    const sent: Message[] = [];
    for (let i = 0; i < 50; i++) {
      sent.push(
        createMessage({
          type: MessageType.MsgApp,
          from: a.id,
          to: b.id,
          term: 2,
          logTerm: 2,
          index: i,
          commit: i,
          entries: [{ type: 0, term: 2, index: i + 1, data: new Uint8Array([i]) }],
        }),
      );
    }
    a.transport.send(sent);
    b.transport.send([createMessage({ type: MessageType.MsgHeartbeat, from: b.id, to: a.id, term: 2 })]);
    await waitFor(() => b.raft.received.length >= 50 && a.raft.received.length >= 1, 'messages both ways on the new connection', 10_000);
    expect(b.raft.received.map((m) => m.index)).toEqual(sent.map((m) => m.index));
  }, 60_000);
});
