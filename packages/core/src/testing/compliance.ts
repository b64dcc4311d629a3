/**
 * The transport compliance suite (`@raftwire/core/compliance`): one set of
 * behaviour tests that every Link adapter (memory, HTTP, WebRTC in Node and
 * in Chromium) runs unchanged. This is the only module of the package that
 * imports vitest; `@raftwire/core/testing` works without it.
 *
 * ## How an adapter uses it
 *
 * ```ts
 * // packages/adapters/test/http/transport-compliance.test.ts
 * import { runTransportCompliance } from '@raftwire/core/compliance';
 * runTransportCompliance('http', async (count) => {
 *   // start `count` servers on 127.0.0.1 port 0, each with an empty handler slot
 *   return { endpoints, dropConnections, close };
 * });
 * ```
 *
 * ## The contract of the factory
 *
 * `makeNetwork(count, setup)` creates `count` endpoints that can all reach
 * each other, and resolves once every endpoint's `url` is known (servers
 * listening, signalling ready). `setup` gives the members' IDs and cluster ID
 * for links that need them up front. For each endpoint the suite builds a
 * `Transport` with `urls: [endpoint.url]` and `link: endpoint.link`, then
 * calls `endpoint.serve(transport.handler)` before `transport.start()`.
 *
 * - `url`: the peer URL at which this endpoint's server answers; other
 *   endpoints' links reach it with `link.request(url, ...)` /
 *   `link.openStream(url, ...)`. Loopback only (127.0.0.1 / ::1), or a
 *   scheme the adapter owns (`webrtc://<id>`, `memory://n`).
 * - `link`: the client side this endpoint's transport uses to reach the
 *   others. It must honour the Link contract in `link.ts`: statuses and
 *   headers carried verbatim (lowercase names), stream bodies delivered
 *   chunk by chunk as written (no buffering until the end), request bodies
 *   streamed (a 32 MiB snapshot must not be held whole), `signal` aborting
 *   a request at any stage with ERR_ABORTED, unreachable targets failing
 *   with ERR_LINK, and a request whose body fails failing on the server's
 *   side too (its handler's body rejects).
 * - `serve(handler)`: installs the handler behind `url` (may be called once
 *   per endpoint per test). Until it is called, requests to `url` must fail
 *   or be answered with a non-2xx status.
 * - `dropConnections(index)`: abruptly closes every connection open to or
 *   from endpoint `index` (streams and requests in flight), as Go's
 *   `httptest.Server.CloseClientConnections` does; new connections must
 *   still be accepted afterwards. Over WebRTC: close the data channels (or
 *   the peer connection) of that endpoint, then let it reconnect.
 * - `close()`: stops every server, closes every link and connection, and
 *   leaves no socket, timer or peer connection behind. The suite stops its
 *   transports before calling it.
 *
 * ## Members that live elsewhere
 *
 * {@link runMemberCompliance} runs the same cases over members the factory
 * makes itself, anywhere: each is a {@link ComplianceMember} (for example a
 * `LocalComplianceMember` in a browser page, reached through
 * `remoteComplianceMember`). The suite sees a member only as a user of the
 * transport does: its methods, its events, and what its raft was told.
 *
 * A fresh network is made for every test. Timings are tolerant of real
 * networks: waits are polled with generous deadlines (scaled by
 * `options.timeScale`, default 1), never fixed sleeps.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode } from '../errors.js';
import { type Id, formatId } from '../ids.js';
import type { Link, LinkHeaders, ProtocolHandler } from '../link.js';
import { type Message, MessageType, createEntry, createMessage, createSnapshot, messagesEqual } from '../message.js';
import type { TransportOptions } from '../options.js';
import { MIN_CLUSTER_VERSION, SERVER_VERSION } from '../version.js';
import {
  type ComplianceEvent,
  type ComplianceMember,
  type ComplianceRequest,
  type ComplianceSetup,
  LocalComplianceMember,
} from './compliance-member.js';
import { patternChecksum, waitFor } from './helpers.js';

export type {
  ComplianceEvent,
  ComplianceMember,
  ComplianceRaftView,
  ComplianceRequest,
  ComplianceResponse,
  ComplianceSetup,
  ComplianceSnapshotBody,
} from './compliance-member.js';
export { memoryTestNetwork } from './memory-network-factory.js';

/** One member's view of the test network. */
export interface TransportTestEndpoint {
  /** Where this endpoint's server answers; the member's only peer URL. */
  readonly url: string;
  /** The client side this endpoint's transport dials with. */
  readonly link: Link;
  /** Installs the handler served at `url`. */
  serve(handler: ProtocolHandler): void | Promise<void>;
}

/** What `makeNetwork(count)` resolves with. */
export interface TransportTestNetwork {
  readonly endpoints: readonly TransportTestEndpoint[];
  /** Abruptly closes every connection open to or from endpoint `index`; new ones are still accepted. */
  dropConnections(index: number): void | Promise<void>;
  /** Stops every server and closes every connection. */
  close(): Promise<void>;
}

export type TransportTestNetworkFactory = (count: number, setup: ComplianceSetup) => Promise<TransportTestNetwork>;

/** What a {@link runMemberCompliance} factory resolves with: started members, `members[i].id === setup.ids[i]`. */
export interface ComplianceCluster {
  readonly members: readonly ComplianceMember[];
  /** As {@link TransportTestNetwork.dropConnections}. */
  dropConnections(index: number): void | Promise<void>;
  /** Closes everything the members used; called after the suite stopped them. */
  close(): Promise<void>;
}

export type ComplianceClusterFactory = (count: number, setup: ComplianceSetup) => Promise<ComplianceCluster>;

export interface MemberComplianceOptions {
  /** Multiplies every deadline (default 1; deadlines are already generous). */
  timeScale?: number;
}

export interface ComplianceOptions extends MemberComplianceOptions {
  /** Extra transport options for every member (e.g. a logger). */
  transportOptions?: Partial<Omit<TransportOptions, 'id' | 'clusterId' | 'urls' | 'link' | 'raft'>>;
}

const CLUSTER = 0x1000n;
const ID = (i: number): bigint => BigInt(i + 1);
/** A peer's four streams: our writer and our reader of each type. */
const ALL_STREAMS = ['message:in', 'message:out', 'msgappv2:in', 'msgappv2:out'];

/**
 * Registers the compliance tests in a vitest `describe` named after `name`,
 * with Transports built in this process over the factory's endpoints. See
 * the file comment for the factory's contract.
 */
export function runTransportCompliance(name: string, makeNetwork: TransportTestNetworkFactory, options: ComplianceOptions = {}): void {
  runMemberCompliance(
    name,
    async (count, setup) => {
      const net = await makeNetwork(count, setup);
      const members: ComplianceMember[] = [];
      try {
        for (let i = 0; i < count; i++) {
          const ep = net.endpoints[i] as TransportTestEndpoint;
          const member = await LocalComplianceMember.create({
            id: setup.ids[i] as Id,
            clusterId: setup.clusterId,
            url: ep.url,
            link: ep.link,
            serve: (h) => ep.serve(h),
            timeouts: setup.timeouts,
            ...(options.transportOptions ? { transportOptions: options.transportOptions } : {}),
          });
          members.push(member);
        }
      } catch (err) {
        await Promise.all(members.map((m) => m.stop()));
        await net.close();
        throw err;
      }
      return { members, dropConnections: (i) => net.dropConnections(i), close: () => net.close() };
    },
    options,
  );
}

/** Replays stream events: the streams to `peer` working now, as `type:direction`. */
function liveStreams(events: readonly ComplianceEvent[], peer: Id): Set<string> {
  const live = new Set<string>();
  for (const e of events) {
    if (e.name === 'stream:attached' && e.id === peer) live.add(`${e.type}:${e.direction}`);
    if (e.name === 'stream:closed' && e.id === peer) live.delete(`${e.type}:${e.direction}`);
  }
  return live;
}

const isStreamEvent = (e: ComplianceEvent): boolean => e.name === 'stream:attached' || e.name === 'stream:closed';

const decodeText = (b: Uint8Array): string => new TextDecoder().decode(b);

/**
 * Registers the compliance tests over members the factory makes (anywhere:
 * this process, a browser page, a worker). Every case runs against them
 * through {@link ComplianceMember} only.
 */
export function runMemberCompliance(name: string, makeCluster: ComplianceClusterFactory, options: MemberComplianceOptions = {}): void {
  const scale = options.timeScale ?? 1;
  const T = (ms: number): number => ms * scale;

  describe(`transport compliance: ${name}`, () => {
    let net: ComplianceCluster | undefined;
    let members: ComplianceMember[] = [];

    afterEach(async () => {
      await Promise.all(members.map((m) => m.stop()));
      members = [];
      await net?.close();
      net = undefined;
    });

    async function cluster(count: number, timeouts: ComplianceSetup['timeouts'] = {}, connect = true): Promise<ComplianceMember[]> {
      const ids = Array.from({ length: count }, (_, i) => ID(i));
      net = await makeCluster(count, { clusterId: CLUSTER, ids, timeouts: { probe: 300, ...timeouts } });
      members = [...net.members];
      expect(members.map((m) => m.id)).toEqual(ids);
      if (connect) {
        for (const a of members) for (const b of members) if (a !== b) await a.addPeer(b.id, [b.url]);
      }
      return members;
    }

    async function streamsUp(a: ComplianceMember, b: ComplianceMember): Promise<boolean> {
      const [ea, eb] = await Promise.all([a.events(), b.events()]);
      return liveStreams(ea, b.id).size === ALL_STREAMS.length && liveStreams(eb, a.id).size === ALL_STREAMS.length;
    }

    async function streamsWorking(a: ComplianceMember, b: ComplianceMember): Promise<void> {
      await waitFor(() => streamsUp(a, b), 'both streams attached in both directions (stream:attached, no stream:closed since)', T(20_000));
    }

    /** The first `removed` event at `m`. */
    const removedEvent = (m: ComplianceMember): Promise<Extract<ComplianceEvent, { name: 'removed' }>> =>
      waitFor(
        async () => (await m.events()).find((e): e is Extract<ComplianceEvent, { name: 'removed' }> => e.name === 'removed'),
        `member ${formatId(m.id)}'s removed event`,
        T(10_000),
      );

    const at = (i: number): ComplianceMember => members[i] as ComplianceMember;

    it('delivers every message type equal to what was sent (etcd TestSendMessage)', async () => {
      await cluster(2);
      const [a, b] = [at(0), at(1)];
      await streamsWorking(a, b);
      const data = new Uint8Array([1, 2, 3, 4]);
      const msgs: Message[] = [
        createMessage({ type: MessageType.MsgProp, from: a.id, to: b.id, entries: [createEntry({ data })] }),
        createMessage({
          type: MessageType.MsgApp,
          from: a.id,
          to: b.id,
          term: 1,
          logTerm: 0,
          index: 3,
          entries: [createEntry({ term: 1, index: 4, data })],
          commit: 3,
        }),
        createMessage({ type: MessageType.MsgAppResp, from: a.id, to: b.id, term: 1, index: 3 }),
        createMessage({ type: MessageType.MsgVote, from: a.id, to: b.id, term: 1, index: 3, logTerm: 0 }),
        createMessage({ type: MessageType.MsgVoteResp, from: a.id, to: b.id, term: 1 }),
        createMessage({
          type: MessageType.MsgSnap,
          from: a.id,
          to: b.id,
          term: 1,
          snapshot: createSnapshot({ data: new Uint8Array(1000), metadata: { index: 1000, term: 1 } }),
        }),
        createMessage({ type: MessageType.MsgHeartbeat, from: a.id, to: b.id, term: 1, commit: 3 }),
        createMessage({ type: MessageType.MsgHeartbeatResp, from: a.id, to: b.id, term: 1 }),
      ];
      for (const m of msgs) {
        const before = (await b.raft()).received;
        await a.send([m]);
        const got = await waitFor(async () => (await b.received(before))[0], `${m.type} to arrive`, T(10_000));
        expect(messagesEqual(got, m)).toBe(true);
      }
      expect((await a.raft()).snapshotReports).toContainEqual({ id: b.id, status: 'finish' });
    });

    it('keeps the order of many MsgApps and carries a 1 MiB entry', async () => {
      await cluster(2);
      const [a, b] = [at(0), at(1)];
      await streamsWorking(a, b);
      const n = 2000;
      const msgs: Message[] = [];
      for (let i = 0; i < n; i++) {
        msgs.push(
          createMessage({
            type: MessageType.MsgApp,
            from: a.id,
            to: b.id,
            term: 2,
            logTerm: 2,
            index: i,
            commit: i,
            entries: [createEntry({ term: 2, index: i + 1, data: new Uint8Array([i & 255]) })],
          }),
        );
      }
      const big = new Uint8Array(1 << 20).map((_, i) => i & 255);
      msgs.push(
        createMessage({
          type: MessageType.MsgApp,
          from: a.id,
          to: b.id,
          term: 2,
          logTerm: 2,
          index: n,
          commit: n,
          entries: [createEntry({ term: 2, index: n + 1, data: big })],
        }),
      );
      await a.send(msgs);
      await waitFor(async () => (await b.raft()).received >= n + 1, 'all MsgApps', T(20_000));
      const got = await b.received();
      expect(got.length).toBe(n + 1);
      const mismatched = got.findIndex((m, i) => !messagesEqual(m, msgs[i] as Message));
      expect(mismatched).toBe(-1);
      expect((await a.raft()).unreachable).toEqual([]);
    });

    it('streams a snapshot body to the receiver and reports finish', async () => {
      await cluster(2);
      const [a, b] = [at(0), at(1)];
      const size = 3 * 1024 * 1024 + 17;
      const msg = createMessage({
        type: MessageType.MsgSnap,
        from: a.id,
        to: b.id,
        term: 3,
        snapshot: createSnapshot({ metadata: { index: 99, term: 3 } }),
      });
      const status = await a.sendSnapshot(msg, { bytes: size, declaredSize: size });
      expect(status).toBe('finish');
      const rb = await b.raft();
      expect(rb.snapshots).toEqual([{ size, received: size, checksum: await patternChecksum(size), error: null }]);
      const [first] = await b.received();
      expect(first !== undefined && messagesEqual(first, msg)).toBe(true);
      expect((await a.raft()).snapshotReports).toEqual([{ id: b.id, status: 'finish' }]);
      const progress = (await a.events()).flatMap((e) => (e.name === 'snapshot:progress' ? [e.sent] : []));
      expect(progress[progress.length - 1]).toBe(size);
    });

    it('fails a snapshot whose body is shorter than declared on both ends', async () => {
      await cluster(2);
      const [a, b] = [at(0), at(1)];
      const msg = createMessage({
        type: MessageType.MsgSnap,
        from: a.id,
        to: b.id,
        term: 3,
        snapshot: createSnapshot({ metadata: { index: 5, term: 3 } }),
      });
      // The body stays open after its 1000 bytes until the receiver has taken them, so the
      // receiver is sure to be receiving when the body ends short: both ends must fail.
      const sending = a.sendSnapshot(msg, { bytes: 1000, declaredSize: 5000, holdBeforeEnd: true });
      await waitFor(async () => (await b.raft()).snapshots[0]?.received === 1000, 'the receiver to take the first 1000 bytes', T(10_000));
      await a.releaseHeldBodies();
      expect(await sending).toBe('failure');
      const ra = await a.raft();
      expect(ra.snapshotReports).toEqual([{ id: b.id, status: 'failure' }]);
      expect(ra.unreachable).toContain(b.id);
      const failed = await waitFor(
        async () => {
          const [rec] = (await b.raft()).snapshots;
          return rec?.error ? rec : undefined;
        },
        "the receiver's receiveSnapshot to fail on the short body",
        T(10_000),
      );
      expect(failed).toMatchObject({ size: 5000, received: 1000 });
      expect((await b.raft()).snapshots).toHaveLength(1);
      expect(await b.received()).toEqual([]);
    });

    it('keeps messages flowing over the pipeline when both streams break (etcd TestSendMessageWhenStreamIsBroken)', async () => {
      await cluster(2);
      const [a, b] = [at(0), at(1)];
      await streamsWorking(a, b);
      await net?.dropConnections(0);
      await net?.dropConnections(1);
      const hb = createMessage({ type: MessageType.MsgHeartbeat, from: a.id, to: b.id, term: 1 });
      let received = false;
      for (let i = 0; i < 200 && !received; i++) {
        await a.send([hb]);
        received = await waitFor(async () => (await b.raft()).received > 0, 'heartbeat', T(50)).then(
          () => true,
          () => false,
        );
      }
      expect(received).toBe(true);
      // and the streams come back on their own
      await streamsWorking(a, b);
    });

    it('keeps idle streams open with link heartbeats (chunks are flushed as written)', async () => {
      await cluster(2, { read: T(900) });
      const [a, b] = [at(0), at(1)];
      await streamsWorking(a, b);
      const streamEvents = async (): Promise<number> =>
        (await a.events()).filter(isStreamEvent).length + (await b.events()).filter(isStreamEvent).length;
      const before = await streamEvents();
      // Over three read timeouts no stream may time out and redial.
      await new Promise((r) => setTimeout(r, T(3000)));
      expect(await streamEvents()).toBe(before);
      expect(await streamsUp(a, b)).toBe(true);
    });

    it('answers protocol checks with etcd statuses and headers over the link', async () => {
      await cluster(2);
      const [a, b] = [at(0), at(1)];
      const base = {
        'x-server-from': formatId(a.id),
        'x-server-version': SERVER_VERSION,
        'x-min-cluster-version': MIN_CLUSTER_VERSION,
        'x-etcd-cluster-id': formatId(CLUSTER),
      };
      const req = async (method: 'GET' | 'POST', path: string, headers: LinkHeaders, stream = false) => {
        const r: ComplianceRequest =
          method === 'POST' ? { method, path, headers, body: new Uint8Array(0), stream } : { method, path, headers, stream };
        const res = await a.request(b.url, r);
        return { status: res.status, headers: res.headers, body: decodeText(res.body) };
      };
      const wrongMethod = await req('GET', '/raft', base);
      expect(wrongMethod.status).toBe(405);
      expect(wrongMethod.headers.allow).toBe('POST');
      expect(wrongMethod.headers['x-etcd-cluster-id']).toBe(formatId(CLUSTER));
      const mismatch = await req('POST', '/raft', { ...base, 'x-etcd-cluster-id': 'abc' });
      expect(mismatch.status).toBe(412);
      expect(mismatch.body.trim()).toBe('cluster ID mismatch');
      const badVersion = await req('POST', '/raft', { ...base, 'x-server-version': 'not-a-version' });
      expect(badVersion.status).toBe(400);
      const oldVersion = await req('POST', '/raft', { ...base, 'x-server-version': '0.1.0' });
      expect(oldVersion.status).toBe(412);
      expect(oldVersion.body.trim()).toBe('incompatible version');
      const garbage = await a.request(b.url, { method: 'POST', path: '/raft', headers: base, body: new Uint8Array([0xff, 0x00, 0x13]) });
      expect(garbage.status).toBe(400);
      const unknown = await req('GET', '/raft/stream/message/77', { ...base, 'x-raft-to': formatId(b.id), 'x-server-from': '77' }, true);
      expect(unknown.status).toBe(404);
      const toMismatch = await req('GET', `/raft/stream/message/${formatId(a.id)}`, { ...base, 'x-raft-to': 'ff' }, true);
      expect(toMismatch.status).toBe(412);
      expect(toMismatch.headers['x-server-version']).toBe(SERVER_VERSION);
      const badPath = await req('GET', '/raft/stream/strange/1', base, true);
      expect(badPath.status).toBe(404);
      const probe = await req('GET', '/raft/probing', {});
      expect(probe.status).toBe(200);
      expect(JSON.parse(probe.body).OK).toBe(true);
    });

    // etcd tells a removed member within a second so it stops instead of campaigning: by 410 on
    // the stream dial that follows the remote dropping it, or by 403 on its next POST.
    it('tells a removed member within 1 s by 410 on its stream redial', async () => {
      await cluster(2);
      const [a, b] = [at(0), at(1)];
      await streamsWorking(a, b);
      const seen = (await a.events()).length;
      // b removes a, as etcd does: raft marks it removed and b's transport drops it (closing the streams).
      await b.markRemoved(a.id);
      await b.removePeer(a.id);
      const dropped = await waitFor(
        async () => (await a.events(seen)).find((e) => e.name === 'stream:closed' && e.id === b.id && e.direction === 'in'),
        "a's stream reader to see b close the stream",
        T(10_000),
      );
      const removed = await removedEvent(a);
      expect(removed.by).toBe(b.id);
      expect(removed.error.code).toBe(ErrorCode.MEMBER_REMOVED);
      expect(removed.at - dropped.at).toBeLessThan(T(1000));
    });

    it('tells a removed member within 1 s by 403 on a POST', async () => {
      await cluster(2);
      const [a, b] = [at(0), at(1)];
      await streamsWorking(a, b);
      // b's raft has just removed a: process() says so (403 to the POST); the streams are still up.
      await b.failProcessAsRemoved();
      const before = (await b.raft()).received;
      // MsgSnap only ever goes by the pipeline (POST /raft).
      const sentAt = await a.send([
        createMessage({
          type: MessageType.MsgSnap,
          from: a.id,
          to: b.id,
          term: 1,
          snapshot: createSnapshot({ metadata: { index: 1, term: 1 } }),
        }),
      ]);
      const removed = await removedEvent(a);
      expect(removed.by).toBe(b.id);
      expect(removed.error.code).toBe(ErrorCode.MEMBER_REMOVED);
      expect(removed.at - sentAt).toBeLessThan(T(1000));
      expect((await b.raft()).received).toBe(before);
    });

    it('marks peers active, then inactive when the remote stops', async () => {
      await cluster(2);
      const [a, b] = [at(0), at(1)];
      await streamsWorking(a, b);
      expect(await a.activeSince(b.id)).toBeGreaterThan(0);
      expect(await a.activePeers()).toBe(1);
      await b.stop();
      await waitFor(async () => (await a.activeSince(b.id)) === 0, 'peer inactive', T(15_000));
      expect(await a.activePeers()).toBe(0);
      expect((await a.events()).some((e) => e.name === 'peer:inactive' && e.id === b.id)).toBe(true);
    });

    it('probes peers and measures a round-trip time', async () => {
      await cluster(2);
      const [a, b] = [at(0), at(1)];
      const st = await waitFor(
        async () => {
          const s = await a.probingStatus(b.id);
          return s?.healthy && s.total - s.loss >= 2 ? s : undefined;
        },
        'two successful probes',
        T(15_000),
      );
      expect(st.srttMs).toBeGreaterThanOrEqual(0);
      expect(Math.abs(st.clockDriftMs)).toBeLessThan(1000);
    });

    it('carries messages between every pair of three members', async () => {
      await cluster(3);
      for (const a of members) {
        await a.send(
          members.filter((b) => b !== a).map((b) => createMessage({ type: MessageType.MsgHeartbeat, from: a.id, to: b.id, term: 1 })),
        );
      }
      await waitFor(
        async () => (await Promise.all(members.map((m) => m.raft()))).every((r) => r.received === 2),
        'two heartbeats at each member',
        T(15_000),
      );
      for (const m of members) expect(new Set((await m.received()).map((r) => r.from)).size).toBe(2);
    });

    it('stop() returns promptly and the remote sees the streams close', async () => {
      await cluster(2);
      const [a, b] = [at(0), at(1)];
      await streamsWorking(a, b);
      expect(await a.stop()).toBeLessThan(T(5000));
      await waitFor(
        async () => {
          const live = liveStreams(await b.events(), a.id);
          return !live.has('message:out') && !live.has('msgappv2:out');
        },
        "remote's writers to close (stream:closed out)",
        T(15_000),
      );
    });
  });
}
