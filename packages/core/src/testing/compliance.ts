/**
 * The transport compliance suite: one set of behaviour tests that every Link
 * adapter (memory, HTTP, WebRTC) runs unchanged.
 *
 * ## How an adapter uses it
 *
 * ```ts
 * // packages/adapters/test/http-compliance.test.ts
 * import { runTransportCompliance } from '@raftwire/core/testing';
 * runTransportCompliance('http', async (count) => {
 *   // start `count` servers on 127.0.0.1 port 0, each with an empty handler slot
 *   return { endpoints, dropConnections, close };
 * });
 * ```
 *
 * ## The contract of the factory
 *
 * `makeNetwork(count)` creates `count` endpoints that can all reach each
 * other, and resolves once every endpoint's `url` is known (servers
 * listening, signalling ready). For each endpoint the suite builds a
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
 *   with ERR_LINK.
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
 * A fresh network is made for every test. Timings are tolerant of real
 * networks: waits are polled with generous deadlines (scaled by
 * `options.timeScale`, default 1), never fixed sleeps.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { formatId } from '../ids.js';
import type { Link, ProtocolHandler } from '../link.js';
import { type Message, MessageType, createEntry, createMessage, createSnapshot, messagesEqual } from '../message.js';
import type { TransportOptions } from '../options.js';
import { Transport } from '../transport.js';
import { SERVER_VERSION, MIN_CLUSTER_VERSION } from '../version.js';
import { RecordingRaft, patternBody, patternChecksum, waitFor } from './helpers.js';

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

export type TransportTestNetworkFactory = (count: number) => Promise<TransportTestNetwork>;

export interface ComplianceOptions {
  /** Multiplies every deadline (default 1; deadlines are already generous). */
  timeScale?: number;
  /** Extra transport options for every member (e.g. a logger). */
  transportOptions?: Partial<Omit<TransportOptions, 'id' | 'clusterId' | 'urls' | 'link' | 'raft'>>;
}

const CLUSTER = 0x1000n;
const ID = (i: number): bigint => BigInt(i + 1);

interface Member {
  id: bigint;
  url: string;
  transport: Transport;
  raft: RecordingRaft;
  link: Link;
}

/**
 * Registers the compliance tests in a vitest `describe` named after `name`.
 * See the file comment for the factory's contract.
 */
export function runTransportCompliance(name: string, makeNetwork: TransportTestNetworkFactory, options: ComplianceOptions = {}): void {
  const scale = options.timeScale ?? 1;
  const T = (ms: number): number => ms * scale;

  describe(`transport compliance: ${name}`, () => {
    let net: TransportTestNetwork | undefined;
    let members: Member[] = [];

    afterEach(async () => {
      await Promise.all(members.map((m) => m.transport.stop()));
      members = [];
      await net?.close();
      net = undefined;
    });

    async function cluster(count: number, extra: Partial<TransportOptions> = {}, connect = true): Promise<Member[]> {
      net = await makeNetwork(count);
      const eps = net.endpoints;
      members = [];
      for (let i = 0; i < count; i++) {
        const ep = eps[i] as TransportTestEndpoint;
        const raft = new RecordingRaft();
        const transport = new Transport({
          ...options.transportOptions,
          ...extra,
          timeouts: { probe: 300, ...options.transportOptions?.timeouts, ...extra.timeouts },
          id: ID(i),
          clusterId: CLUSTER,
          urls: [ep.url],
          link: ep.link,
          raft,
        } as TransportOptions);
        await ep.serve(transport.handler);
        transport.start();
        members.push({ id: ID(i), url: ep.url, transport, raft, link: ep.link });
      }
      if (connect) {
        for (const a of members) for (const b of members) if (a !== b) a.transport.addPeer(b.id, [b.url]);
      }
      return members;
    }

    async function streamsWorking(a: Member, b: Member): Promise<void> {
      await waitFor(
        () => {
          return a.transport.get(b.id)?.streamsWorking && b.transport.get(a.id)?.streamsWorking;
        },
        'both streams working in both directions (writers attached, readers reading)',
        T(20_000),
      );
    }

    const at = (i: number): Member => members[i] as Member;

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
        const before = b.raft.received.length;
        a.transport.send([m]);
        const got = await waitFor(() => b.raft.received[before], `${m.type} to arrive`, T(10_000));
        expect(messagesEqual(got, m)).toBe(true);
      }
      expect(a.raft.snapshotReports).toContainEqual({ id: b.id, status: 'finish' });
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
      a.transport.send(msgs);
      await waitFor(() => b.raft.received.length >= n + 1, 'all MsgApps', T(20_000));
      expect(b.raft.received.length).toBe(n + 1);
      const mismatched = b.raft.received.findIndex((m, i) => !messagesEqual(m, msgs[i] as Message));
      expect(mismatched).toBe(-1);
      expect(a.raft.unreachable).toEqual([]);
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
      b.raft.keepSnapshotBytes = 0;
      const progress: number[] = [];
      a.transport.on('snapshot:progress', (e) => progress.push(e.sent));
      const status = await a.transport.sendSnapshot(msg, patternBody(size), size);
      expect(status).toBe('finish');
      const rec = b.raft.snapshots[0];
      expect(rec?.received).toBe(size);
      expect(rec?.checksum).toBe(await patternChecksum(size));
      expect(messagesEqual(b.raft.received[0] as Message, msg)).toBe(true);
      expect(a.raft.snapshotReports).toEqual([{ id: b.id, status: 'finish' }]);
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
      const status = await a.transport.sendSnapshot(msg, patternBody(1000), 5000);
      expect(status).toBe('failure');
      expect(a.raft.snapshotReports).toEqual([{ id: b.id, status: 'failure' }]);
      expect(a.raft.unreachable).toContain(b.id);
      await waitFor(() => b.raft.snapshots.length === 0 || b.raft.snapshots[0]?.error, 'receiver to see the short body', T(10_000));
      expect(b.raft.received).toEqual([]);
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
        a.transport.send([hb]);
        received = await waitFor(() => b.raft.received.length > 0, 'heartbeat', T(50)).then(
          () => true,
          () => false,
        );
      }
      expect(received).toBe(true);
      // and the streams come back on their own
      await streamsWorking(a, b);
    });

    it('keeps idle streams open with link heartbeats (chunks are flushed as written)', async () => {
      await cluster(2, { timeouts: { read: T(900) } });
      const [a, b] = [at(0), at(1)];
      await streamsWorking(a, b);
      const pa = a.transport.get(b.id)!;
      const pb = b.transport.get(a.id)!;
      const before =
        pa.messageReader.established + pa.msgAppReader.established + pb.messageReader.established + pb.msgAppReader.established;
      await new Promise((r) => setTimeout(r, T(3000)));
      const after = pa.messageReader.established + pa.msgAppReader.established + pb.messageReader.established + pb.msgAppReader.established;
      expect(after).toBe(before);
      expect(pa.messageReader.working && pa.msgAppReader.working && pb.messageReader.working && pb.msgAppReader.working).toBe(true);
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
      const text = async (body: AsyncIterable<Uint8Array>): Promise<string> => {
        let s = '';
        const d = new TextDecoder();
        for await (const c of body) s += d.decode(c, { stream: true });
        return s;
      };
      const req = async (method: 'GET' | 'POST', path: string, headers: Record<string, string>, stream = false) => {
        const r = await (stream
          ? a.link.openStream(b.url, { method, path, headers })
          : a.link.request(b.url, method === 'POST' ? { method, path, headers, body: new Uint8Array(0) } : { method, path, headers }));
        return { status: r.status, headers: r.headers, body: await text(r.body) };
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
      const garbage = await a.link.request(b.url, {
        method: 'POST',
        path: '/raft',
        headers: base,
        body: new Uint8Array([0xff, 0x00, 0x13]),
      });
      expect(garbage.status).toBe(400);
      await text(garbage.body);
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

    it('tells a removed member at once when a stream dial is answered 410', async () => {
      await cluster(2, {}, false);
      const [a, b] = [at(0), at(1)];
      b.raft.removed.add(a.id);
      b.transport.addPeer(a.id, [a.url]);
      const removed = new Promise<bigint>((resolve) => a.transport.once('removed', (e) => resolve(e.by)));
      a.transport.addPeer(b.id, [b.url]);
      const by = await Promise.race([removed, new Promise<string>((r) => setTimeout(() => r('timeout'), T(10_000)))]);
      expect(by).toBe(b.id);
    });

    it('marks peers active, then inactive when the remote stops', async () => {
      await cluster(2);
      const [a, b] = [at(0), at(1)];
      await streamsWorking(a, b);
      expect(a.transport.activeSince(b.id)).toBeGreaterThan(0);
      expect(a.transport.activePeers()).toBe(1);
      await b.transport.stop();
      await waitFor(() => a.transport.activeSince(b.id) === 0, 'peer inactive', T(15_000));
      expect(a.transport.activePeers()).toBe(0);
    });

    it('probes peers and measures a round-trip time', async () => {
      await cluster(2);
      const [a, b] = [at(0), at(1)];
      const st = await waitFor(
        () => {
          const s = a.transport.probingStatus(b.id);
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
        for (const b of members) {
          if (a !== b) a.transport.send([createMessage({ type: MessageType.MsgHeartbeat, from: a.id, to: b.id, term: 1 })]);
        }
      }
      await waitFor(() => members.every((m) => m.raft.received.length === 2), 'two heartbeats at each member', T(15_000));
      for (const m of members) expect(new Set(m.raft.received.map((r) => r.from)).size).toBe(2);
    });

    it('stop() returns promptly and the remote sees the streams close', async () => {
      await cluster(2);
      const [a, b] = [at(0), at(1)];
      await streamsWorking(a, b);
      const t0 = Date.now();
      await a.transport.stop();
      expect(Date.now() - t0).toBeLessThan(T(5000));
      await waitFor(
        () => {
          const p = b.transport.get(a.id);
          return p && !p.msgAppWriter.working && !p.messageWriter.working;
        },
        "remote's writers to notice",
        T(15_000),
      );
    });
  });
}
