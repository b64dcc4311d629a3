import { afterEach, describe, expect, it } from 'vitest';
import {
  ErrorCode,
  type Message,
  MessageType,
  Transport,
  type TransportOptions,
  createMessage,
  isRaftwireError,
  messagesEqual,
} from '@raftwire/core';
import { MemoryNetwork, RecordingRaft, TrackingClock, waitFor } from '@raftwire/core/testing';
import { CLUSTER, type Cluster, makeCluster, streamsUp } from './fixtures.js';

let c: Cluster | undefined;
afterEach(async () => {
  await c?.stop();
  c = undefined;
});

const hb = (from: bigint, to: bigint, term = 1) => createMessage({ type: MessageType.MsgHeartbeat, from, to, term });

describe('Transport', () => {
  it('skips To=0 and unknown targets and routes the rest in order (TestTransportSend)', async () => {
    c = makeCluster(3);
    const [a, b, d] = [c.m(0), c.m(1), c.m(2)];
    const msgs = [hb(1n, 0n), hb(1n, 2n, 1), hb(1n, 99n), hb(1n, 3n, 2), hb(1n, 2n, 3), hb(1n, 3n, 4)];
    a.transport.send(msgs);
    await waitFor(() => b.raft.received.length === 2 && d.raft.received.length === 2, 'delivered');
    expect(b.raft.received.map((m) => m.term)).toEqual([1, 3]);
    expect(d.raft.received.map((m) => m.term)).toEqual([2, 4]);
    expect(a.raft.unreachable).toEqual([]);
  });

  it('delivers nothing to a cut peer and resumes after mend (TestTransportCutMend)', async () => {
    c = makeCluster(2);
    const [a, b] = [c.m(0), c.m(1)];
    await waitFor(() => streamsUp(a, b), 'streams');
    a.transport.cutPeer(b.id);
    a.transport.send([hb(a.id, b.id, 1)]);
    b.transport.send([hb(b.id, a.id, 1)]);
    await new Promise((r) => setTimeout(r, 100));
    expect(b.raft.received).toEqual([]);
    expect(a.raft.received).toEqual([]); // the cut peer's incoming messages are dropped too
    a.transport.mendPeer(b.id);
    a.transport.send([hb(a.id, b.id, 2)]);
    await waitFor(() => b.raft.received.length === 1, 'delivered after mend');
    expect(b.raft.received[0]?.term).toBe(2);
  });

  it('pause() and resume() cover every peer', async () => {
    c = makeCluster(3);
    const [a, b, d] = [c.m(0), c.m(1), c.m(2)];
    a.transport.pause();
    a.transport.send([hb(a.id, b.id), hb(a.id, d.id)]);
    await new Promise((r) => setTimeout(r, 50));
    expect(b.raft.received.length + d.raft.received.length).toBe(0);
    a.transport.resume();
    a.transport.send([hb(a.id, b.id), hb(a.id, d.id)]);
    await waitFor(() => b.raft.received.length === 1 && d.raft.received.length === 1, 'delivered');
  });

  it('keeps the same peer on a duplicate addPeer (TestTransportAdd)', () => {
    c = makeCluster(2, { connect: false });
    const t = c.m(0).transport;
    t.addPeer(2n, [c.m(1).url]);
    const p = t.get(2n);
    t.addPeer(2n, ['memory://elsewhere']);
    expect(t.get(2n)).toBe(p);
    expect(t.peerIds()).toEqual([2n]);
  });

  it('removes a peer, idempotently (TestTransportRemove, TestTransportRemoveIsIdempotent)', async () => {
    c = makeCluster(2);
    const t = c.m(0).transport;
    t.removePeer(2n);
    expect(t.get(2n)).toBeUndefined();
    t.removePeer(2n);
    expect(c.m(0).logger.find('skipped removing already removed peer')).toHaveLength(1);
    t.addPeer(2n, [c.m(1).url]);
    t.removeAllPeers();
    expect(t.peerIds()).toEqual([]);
  });

  it('replaces peer URLs on update (TestTransportUpdate)', () => {
    c = makeCluster(2);
    const t = c.m(0).transport;
    t.updatePeer(2n, ['memory://n9', 'memory://n8']);
    expect(t.get(2n)?.picker.list()).toEqual(['memory://n8', 'memory://n9']);
    t.updatePeer(42n, ['memory://x']); // unknown: ignored
    expect(t.get(42n)).toBeUndefined();
    expect(() => t.updatePeer(2n, ['bogus'])).toThrow();
  });

  it('emits removed within a second when a peer answers 403 (TestTransportErrorc)', async () => {
    c = makeCluster(2);
    const [a, b] = [c.m(0), c.m(1)];
    b.raft.removed.add(a.id);
    const events: bigint[] = [];
    a.transport.on('removed', (e) => events.push(e.by));
    expect(events).toEqual([]);
    const t0 = Date.now();
    await waitFor(() => events.length > 0, 'removed', 1000);
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(events[0]).toBe(b.id);
  });

  it('tracks active peers with activeSince, activePeers and events', async () => {
    c = makeCluster(2, { connect: false });
    const [a, b] = [c.m(0), c.m(1)];
    const log: string[] = [];
    a.transport.on('peer:active', (e) => log.push(`active ${e.id}`));
    a.transport.on('peer:inactive', (e) => log.push(`inactive ${e.id}`));
    a.transport.on('stream:attached', (e) => log.push(`attached ${e.type} ${e.direction}`));
    expect(a.transport.activeSince(b.id)).toBe(0);
    b.transport.addPeer(a.id, [a.url]);
    a.transport.addPeer(b.id, [b.url]);
    await waitFor(() => streamsUp(a, b), 'streams');
    expect(a.transport.activeSince(b.id)).toBeGreaterThan(0);
    expect(a.transport.activePeers()).toBe(1);
    expect(log[0]).toBe('active 2');
    expect(log).toContain('attached msgappv2 in');
    expect(log).toContain('attached message out');
    expect(a.metrics.get('etcd_network_active_peers', { Local: '1', Remote: '2' })).toBe(1);
    c.m(1).unserve();
    c.net.dropConnections(b.url);
    await waitFor(() => a.transport.activeSince(b.id) === 0, 'inactive');
    expect(log).toContain('inactive 2');
    expect(a.metrics.get('etcd_network_disconnected_peers_total', { Local: '1', Remote: '2' })).toBeGreaterThan(0);
  });

  it('requires start() and refuses bad input with typed errors', async () => {
    const net = new MemoryNetwork();
    const raft = new RecordingRaft();
    const mk = () => new Transport({ id: 1n, clusterId: CLUSTER, urls: ['memory://n0'], link: net.link('memory://n0'), raft });
    const t = mk();
    expect(() => t.addPeer(2n, ['memory://n1'])).toThrow(/not started/);
    t.send([hb(1n, 2n)]); // ignored before start
    t.start();
    expect(() => t.addPeer(0n, ['memory://n1'])).toThrow();
    let err: unknown;
    try {
      t.addPeer(2n, ['nope']);
    } catch (e) {
      err = e;
    }
    expect(isRaftwireError(err, ErrorCode.INVALID_URL)).toBe(true);
    expect(() => new Transport({ id: 0n, clusterId: CLUSTER, urls: ['memory://n0'], link: net.link('x'), raft })).toThrow();
    expect(() => new Transport({ id: 1n, clusterId: CLUSTER, urls: [], link: net.link('x'), raft })).toThrow();
    expect(() => new Transport({ id: 1n, clusterId: CLUSTER, urls: ['memory://n0'], link: net.link('x'), raft, version: 'v1' })).toThrow();
    // A link that is not a Link is a bad argument, not a bad message.
    const notALink = { request: 'nope' } as unknown as TransportOptions['link'];
    expect(() => new Transport({ id: 1n, clusterId: CLUSTER, urls: ['memory://n0'], link: notALink, raft })).toThrow(
      expect.objectContaining({ code: ErrorCode.INVALID_ARGUMENT }),
    );
    await t.stop();
    await t.stop(); // idempotent
    expect(() => t.start()).toThrow();
    expect(() => t.addPeer(2n, ['memory://n1'])).toThrow(/stopped/);
    t.addRemote(5n, ['memory://n5']); // no-op when stopped
    expect(t.remoteIds()).toEqual([]);
  });

  it('sends to a remote when there is no peer, and prefers the peer once added', async () => {
    c = makeCluster(2, { connect: false });
    const [a, b] = [c.m(0), c.m(1)];
    a.transport.addRemote(b.id, [b.url]);
    a.transport.addRemote(b.id, [b.url]); // duplicate: no-op
    a.transport.send([hb(a.id, b.id, 1)]);
    await waitFor(() => b.raft.received.length === 1, 'via remote');
    expect(b.seen.some((r) => r.path === '/raft')).toBe(true);
    a.transport.cutPeer(b.id);
    a.transport.send([hb(a.id, b.id, 9)]);
    a.transport.mendPeer(b.id);
    a.transport.addPeer(b.id, [b.url]);
    a.transport.send([hb(a.id, b.id, 2)]);
    await waitFor(() => b.raft.received.length === 2, 'via peer');
    expect(b.raft.received.map((m) => m.term)).toEqual([1, 2]);
  });

  it('leaves no timer, connection or pending work behind after stop()', async () => {
    const clock = new TrackingClock();
    c = makeCluster(3, { common: { clock, timeouts: { probe: 50, read: 300 } } });
    const [a, b] = [c.m(0), c.m(1)];
    await waitFor(() => streamsUp(a, b) && streamsUp(a, c!.m(2)), 'streams');
    a.transport.send(Array.from({ length: 100 }, (_, i) => hb(a.id, b.id, i + 1)));
    void a.transport.sendSnapshot(
      createMessage({ type: MessageType.MsgSnap, from: a.id, to: b.id }),
      (async function* () {
        yield new Uint8Array(10);
        await new Promise(() => {}); // a body that never ends
      })(),
      20,
    );
    await new Promise((r) => setTimeout(r, 200));
    expect(clock.activeTimers).toBeGreaterThan(0);
    await Promise.all(c.members.map((m) => m.transport.stop()));
    expect(clock.activeTimers).toBe(0);
    await waitFor(() => c!.net.openConnections === 0, 'no open connections', 1000);
  });

  it('reconnects to a member restarted at the same URL', async () => {
    c = makeCluster(2);
    const [a, b] = [c.m(0), c.m(1)];
    await waitFor(() => streamsUp(a, b), 'streams');
    await b.transport.stop();
    b.unserve();
    const raft = new RecordingRaft();
    const b2 = new Transport({ id: b.id, clusterId: CLUSTER, urls: [b.url], link: c.net.link(b.url), raft, timeouts: { probe: 60_000 } });
    const unserve = c.net.serve(b.url, b2.handler);
    b2.start();
    b2.addPeer(a.id, [a.url]);
    try {
      await waitFor(
        () => a.transport.get(b.id)?.messageWriter.working && b2.get(a.id)?.messageWriter.working,
        'streams to the new incarnation',
        10_000,
      );
      a.transport.send([hb(a.id, b.id, 5)]);
      b2.send([hb(b.id, a.id, 6)]);
      await waitFor(() => raft.received.length === 1 && a.raft.received.some((m) => m.term === 6), 'both ways');
    } finally {
      await b2.stop();
      unserve();
    }
  });

  it('takes the snapshot size from the body when not given, and fits the raft package transport shape', async () => {
    c = makeCluster(2);
    const [a, b] = [c.m(0), c.m(1)];
    // the sending half raft's RaftNode needs (packages/raft/src/transport.ts), checked at compile time
    const asRaftTransport: {
      send(msgs: Message[]): void;
      sendSnapshot(msg: Message, body: AsyncIterable<Uint8Array>): void;
      addPeer?(id: bigint, urls: string[]): void;
      removePeer?(id: bigint): void;
    } = a.transport;
    const data = new Uint8Array(3000).fill(9);
    const body = Object.assign(
      (async function* () {
        yield data.subarray(0, 1000);
        yield data.subarray(1000);
      })(),
      { size: data.length },
    );
    asRaftTransport.sendSnapshot(createMessage({ type: MessageType.MsgSnap, from: a.id, to: b.id, term: 2 }), body);
    await waitFor(() => a.raft.snapshotReports.length === 1, 'report');
    expect(a.raft.snapshotReports[0]?.status).toBe('finish');
    expect(b.raft.snapshots[0]?.data).toEqual(data);
    const noSize = await a.transport.sendSnapshot(
      createMessage({ type: MessageType.MsgSnap, from: a.id, to: b.id }),
      (async function* () {})(),
    );
    expect(noSize).toBe('failure');
  });

  it('fails sendSnapshot to an unknown member without throwing', async () => {
    c = makeCluster(1);
    const a = c.m(0);
    const failed: string[] = [];
    a.transport.on('snapshot:failed', (e) => failed.push(e.error.code));
    const st = await a.transport.sendSnapshot(createMessage({ type: MessageType.MsgSnap, from: 1n, to: 9n }), (async function* () {})(), 0);
    expect(st).toBe('failure');
    expect(failed).toEqual([ErrorCode.MEMBER_NOT_FOUND]);
    expect(a.raft.snapshotReports).toEqual([{ id: 9n, status: 'failure' }]);
  });

  it('delivers MsgProp apart from other messages so a blocked proposal does not hold them up', async () => {
    c = makeCluster(2);
    const [a, b] = [c.m(0), c.m(1)];
    await waitFor(() => streamsUp(a, b), 'streams');
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const orig = b.raft.process.bind(b.raft);
    b.raft.process = async (m: Message) => {
      if (m.type === MessageType.MsgProp) await gate;
      orig(m);
    };
    const p = createMessage({ type: MessageType.MsgProp, from: a.id, to: b.id });
    a.transport.send([p, hb(a.id, b.id, 7)]);
    await waitFor(() => b.raft.received.length === 1, 'heartbeat past the blocked proposal');
    expect(b.raft.received[0]?.term).toBe(7);
    release();
    await waitFor(() => b.raft.received.length === 2, 'proposal');
    expect(messagesEqual(b.raft.received[1]!, p)).toBe(true);
  });
});
