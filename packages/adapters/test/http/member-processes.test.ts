/**
 * Members in separate Node processes (Transport served over HTTP on
 * 127.0.0.1): a 256 MiB snapshot streamed end to end under a resident-memory
 * bound, and a member killed with SIGKILL and restarted on the same URL.
 */
import {
  type Message,
  MessageType,
  Transport,
  cborMessageCodec,
  createEntry,
  createMessage,
  formatId,
  messagesEqual,
} from '@raftwire/core';
import { RecordingRaft, patternChecksum, waitFor } from '@raftwire/core/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { NodeHttpLink } from '../../src/http/node/node-link.js';
import { type RaftServer, startRaftServer } from '../../src/http/node/raft-server.js';
import { MemberProcess } from './fixtures/member-process.js';

const CLUSTER = formatId(0x1000n);
const MiB = 1024 * 1024;

describe('members in separate processes over HTTP', () => {
  const cleanup: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const f of cleanup.splice(0).reverse()) await f();
  });
  const spawnMember = async (config: Parameters<typeof MemberProcess.start>[0]): Promise<MemberProcess> => {
    const m = await MemberProcess.start(config);
    cleanup.push(async () => {
      m.kill();
      await m.waitExit();
    });
    return m;
  };

  it('streams a 256 MiB snapshot between two processes, each under 200 MB resident', { timeout: 120_000 }, async () => {
    const [a, b] = await Promise.all([
      spawnMember({ id: '1', clusterId: CLUSTER }),
      spawnMember({ id: '2', clusterId: CLUSTER, checksum: true }),
    ]);
    a.command({ cmd: 'addPeer', id: '2', url: b.url });
    b.command({ cmd: 'addPeer', id: '1', url: a.url });
    const size = 256 * MiB;
    const sent = await a.ask({ cmd: 'snapshot', to: '2', size, pattern: true }, 'snapshot-sent', 100_000);
    expect(sent['status']).toBe('finish');
    const [sa, sb] = await Promise.all([a.ask({ cmd: 'stats' }, 'stats'), b.ask({ cmd: 'stats' }, 'stats')]);
    const snaps = sb['snapshots'] as { size: number; received: number; checksum: number }[];
    expect(snaps).toHaveLength(1);
    expect(snaps[0]?.received).toBe(size);
    expect(snaps[0]?.size).toBe(size);
    // The body went through the receiveSnapshot hook (process() came after it), byte for byte.
    expect(snaps[0]?.checksum).toBe(await patternChecksum(size));
    expect(sb['received']).toBe(1);
    for (const s of [sa, sb]) {
      expect(s['maxRss'] as number).toBeLessThan(200 * 1e6);
      expect(s['maxSampledRss'] as number).toBeLessThan(200 * 1e6);
    }
  });

  it('a member killed with SIGKILL goes inactive, comes back on the same URL, and messages flow again', { timeout: 90_000 }, async () => {
    const raft = new RecordingRaft();
    const link = new NodeHttpLink({ dialTimeoutMs: 1000 });
    let handler: Transport['handler'] | undefined;
    const server: RaftServer = await startRaftServer({
      handler: (req) => (handler ? handler(req) : Promise.resolve({ status: 503, headers: {} })),
      host: '127.0.0.1',
      port: 0,
    });
    const a = new Transport({ id: 1n, clusterId: 0x1000n, urls: [server.url], link, raft, timeouts: { probe: 300 } });
    handler = a.handler;
    a.start();
    cleanup.push(async () => {
      await a.stop();
      link.close();
      await server.close({ signal: AbortSignal.timeout(2000) });
    });

    let b = await spawnMember({ id: '2', clusterId: CLUSTER, echo: true });
    const bUrl = b.url;
    const port = Number(new URL(bUrl).port);
    a.addPeer(2n, [bUrl]);
    b.command({ cmd: 'addPeer', id: '1', url: server.url });

    const streamsUp = () => waitFor(() => a.get(2n)?.streamsWorking, 'all four streams with the child working', 20_000);
    let nextIndex = 1;
    const exchange = async (proc: MemberProcess): Promise<void> => {
      // a → child over the msgapp stream: the child reports what its process() got
      const m = createMessage({
        type: MessageType.MsgApp,
        from: 1n,
        to: 2n,
        term: 1,
        logTerm: 1,
        index: nextIndex,
        commit: nextIndex,
        entries: [createEntry({ term: 1, index: nextIndex + 1, data: new TextEncoder().encode(`entry ${nextIndex}`) })],
      });
      nextIndex++;
      const seen = proc.events.length;
      a.send([m]);
      const echoed = await proc.next((e) => e.ev === 'msg', 10_000, 'the MsgApp at the child');
      expect(proc.events.length).toBeGreaterThan(seen);
      const got = cborMessageCodec.decode(new Uint8Array(Buffer.from(echoed['data'] as string, 'base64')));
      expect(messagesEqual(got, m)).toBe(true);
      // child → a
      const back = createMessage({ type: MessageType.MsgHeartbeat, from: 2n, to: 1n, term: 1, commit: nextIndex });
      const before = raft.received.length;
      proc.command({ cmd: 'send', msgs: [Buffer.from(cborMessageCodec.encode(back)).toString('base64')] });
      const arrived = await waitFor(() => raft.received[before], 'the heartbeat from the child', 10_000);
      expect(messagesEqual(arrived as Message, back)).toBe(true);
    };

    await streamsUp();
    expect(a.activeSince(2n)).toBeGreaterThan(0);
    await exchange(b);

    b.kill('SIGKILL');
    await b.waitExit();
    await waitFor(() => a.activeSince(2n) === 0, 'peer 2 inactive after SIGKILL', 10_000);
    const p = a.get(2n)!;
    const establishedBefore = p.msgAppReader.established + p.messageReader.established;

    b = await spawnMember({ id: '2', clusterId: CLUSTER, echo: true, port });
    expect(b.url).toBe(bUrl);
    b.command({ cmd: 'addPeer', id: '1', url: server.url });
    await streamsUp();
    expect(p.msgAppReader.established + p.messageReader.established).toBeGreaterThan(establishedBefore);
    await waitFor(() => a.activeSince(2n) > 0, 'peer 2 active again', 10_000);
    await exchange(b);
  });
});
