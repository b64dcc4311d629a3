import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode, type Message, MessageType, createMessage, createSnapshot, messagesEqual } from '@raftwire/core';
import { MemoryNetwork, waitFor } from '@raftwire/core/testing';
import { type Cluster, makeCluster, streamsUp } from './fixtures.js';

let c: Cluster | undefined;
afterEach(async () => {
  await c?.stop();
  c = undefined;
});

const snapMsg = (from: bigint, to: bigint) =>
  createMessage({ type: MessageType.MsgSnap, from, to, term: 4, snapshot: createSnapshot({ metadata: { index: 77, term: 4 } }) });

async function* chunks(...parts: Uint8Array[]): AsyncGenerator<Uint8Array> {
  yield* parts;
}

describe('snapshots', () => {
  it('never sends MsgSnap on a stream, even with both streams working', async () => {
    c = makeCluster(2);
    const [a, b] = [c.m(0), c.m(1)];
    await waitFor(() => streamsUp(a, b), 'streams');
    const m = snapMsg(a.id, b.id);
    expect(a.transport.get(b.id)?.pick(m)).toBe('pipeline');
    a.transport.send([m]);
    await waitFor(() => b.raft.received.length === 1, 'MsgSnap via pipeline');
    expect(b.seen.filter((r) => r.method === 'POST' && r.path === '/raft')).toHaveLength(1);
    expect(messagesEqual(b.raft.received[0] as Message, m)).toBe(true);
    const st = await a.transport.sendSnapshot(m, chunks(new Uint8Array(10)), 10);
    expect(st).toBe('finish');
    expect(b.seen.filter((r) => r.path === '/raft/snapshot')).toHaveLength(1);
  });

  it('sends a small body and fails on reader errors and size mismatches (TestSnapshotSend)', async () => {
    c = makeCluster(2);
    const [a, b] = [c.m(0), c.m(1)];
    const hello = new TextEncoder().encode('hello');
    expect(await a.transport.sendSnapshot(snapMsg(a.id, b.id), chunks(hello), 5)).toBe('finish');
    expect(b.raft.snapshots[0]?.data).toEqual(hello);
    expect(b.raft.received).toHaveLength(1);
    const failing = (async function* () {
      yield hello;
      throw new Error('disk read error');
    })();
    const errors: string[] = [];
    a.transport.on('snapshot:failed', (e) => errors.push(e.error.code));
    expect(await a.transport.sendSnapshot(snapMsg(a.id, b.id), failing, 10)).toBe('failure');
    expect(await a.transport.sendSnapshot(snapMsg(a.id, b.id), chunks(hello), 10000)).toBe('failure');
    expect(await a.transport.sendSnapshot(snapMsg(a.id, b.id), chunks(hello), 1)).toBe('failure');
    expect(errors).toEqual([ErrorCode.LINK, ErrorCode.SNAPSHOT_SIZE, ErrorCode.SNAPSHOT_SIZE]);
    // only the first snapshot was processed
    await new Promise((r) => setTimeout(r, 50));
    expect(b.raft.received).toHaveLength(1);
    expect(a.raft.snapshotReports.map((r) => r.status)).toEqual(['finish', 'failure', 'failure', 'failure']);
    expect(a.metrics.get('etcd_network_snapshot_send_failures', { To: '2' })).toBe(3);
    expect(a.metrics.get('etcd_network_snapshot_send_success', { To: '2' })).toBe(1);
  });

  it('only a 403 that says the sender was removed means removal; "to mismatch member" fails that snapshot alone', async () => {
    c = makeCluster(2);
    const [a, b] = [c.m(0), c.m(1)];
    const handler = b.transport.handler;
    let answer = 'cannot process message to mismatch member\n';
    b.unserve();
    c.net.serve(b.url, async (req) => {
      if (req.path !== '/raft/snapshot') return handler(req);
      for await (const _ of req.body) {
        // read the upload to its end, as a real server does before answering
      }
      return { status: 403, headers: { 'x-server-version': '1.0.0' }, body: new TextEncoder().encode(answer) };
    });
    let removed = 0;
    a.transport.on('removed', () => removed++);
    expect(await a.transport.sendSnapshot(snapMsg(a.id, b.id), chunks(new Uint8Array(10)), 10)).toBe('failure');
    expect(removed).toBe(0);
    answer = 'cannot process message from removed member\n';
    expect(await a.transport.sendSnapshot(snapMsg(a.id, b.id), chunks(new Uint8Array(10)), 10)).toBe('failure');
    expect(removed).toBe(1);
  });

  it('hands receiveSnapshot (msg, body, size, signal): the order of sendSnapshot', async () => {
    c = makeCluster(2);
    const [a, b] = [c.m(0), c.m(1)];
    const got: { size: unknown; signal: unknown; bytes: number }[] = [];
    b.raft.receiveSnapshot = async (_m: Message, body: AsyncIterable<Uint8Array>, size: number, signal?: AbortSignal) => {
      let bytes = 0;
      for await (const chunk of body) bytes += chunk.length;
      got.push({ size, signal, bytes });
    };
    expect(await a.transport.sendSnapshot(snapMsg(a.id, b.id), chunks(new Uint8Array(7)), 7)).toBe('finish');
    expect(got).toHaveLength(1);
    expect(got[0]?.size).toBe(7);
    expect(got[0]?.bytes).toBe(7);
    expect(got[0]?.signal).toBeInstanceOf(AbortSignal);
  });

  it('rejects a non-MsgSnap or a bad size without sending', async () => {
    c = makeCluster(2);
    const [a, b] = [c.m(0), c.m(1)];
    expect(await a.transport.sendSnapshot(createMessage({ type: MessageType.MsgApp, from: a.id, to: b.id }), chunks(), 0)).toBe('failure');
    expect(await a.transport.sendSnapshot(snapMsg(a.id, b.id), chunks(), -1)).toBe('failure');
    expect(b.seen.filter((r) => r.path === '/raft/snapshot')).toEqual([]);
  });

  it('cancels a send through its AbortSignal', async () => {
    c = makeCluster(2);
    const [a, b] = [c.m(0), c.m(1)];
    const ac = new AbortController();
    const endless = (async function* () {
      for (;;) {
        yield new Uint8Array(1000);
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
    const failed: string[] = [];
    a.transport.on('snapshot:failed', (e) => failed.push(e.error.code));
    const p = a.transport.sendSnapshot(snapMsg(a.id, b.id), endless, 1e9, ac.signal);
    await waitFor(() => (b.raft.snapshots[0]?.received ?? 0) > 0, 'bytes flowing');
    ac.abort();
    expect(await p).toBe('failure');
    expect(failed).toEqual([ErrorCode.ABORTED]);
    await waitFor(() => b.raft.snapshots[0]?.error, 'receiver saw the abort');
    expect(b.raft.received).toEqual([]);
  });

  it('applies the idle timeout to progress, not to total time', async () => {
    c = makeCluster(2, { common: { timeouts: { snapshotIdle: 300 } } });
    const [a, b] = [c.m(0), c.m(1)];
    const slow = (async function* () {
      for (let i = 0; i < 12; i++) {
        await new Promise((r) => setTimeout(r, 80));
        yield new Uint8Array(100);
      }
    })();
    const t0 = Date.now();
    expect(await a.transport.sendSnapshot(snapMsg(a.id, b.id), slow, 1200)).toBe('finish');
    expect(Date.now() - t0).toBeGreaterThan(600); // longer than the idle timeout, yet it finished
    const stalled = (async function* () {
      yield new Uint8Array(100);
      await new Promise((r) => setTimeout(r, 5000));
    })();
    const failed: string[] = [];
    a.transport.on('snapshot:failed', (e) => failed.push(e.error.code));
    const t1 = Date.now();
    expect(await a.transport.sendSnapshot(snapMsg(a.id, b.id), stalled, 1000)).toBe('failure');
    expect(Date.now() - t1).toBeLessThan(3000);
    expect(failed).toEqual([ErrorCode.TIMEOUT]);
  });

  it('holds a send to snapshotRateLimit, and time waiting for the limiter is not an idle stall', async () => {
    // Three 64 KiB chunks at 100 kB/s (burst 64 KiB): the first goes at once, each later one
    // waits ≈ 655 ms for the limiter, over three times snapshotIdle.
    c = makeCluster(2, { common: { timeouts: { snapshotIdle: 200 }, snapshotRateLimit: 100_000 } });
    const [a, b] = [c.m(0), c.m(1)];
    const CHUNK = 64 * 1024;
    const SIZE = 3 * CHUNK;
    const body = (async function* () {
      for (let sent = 0; sent < SIZE; sent += CHUNK) yield new Uint8Array(CHUNK).fill(3);
    })();
    const failed: string[] = [];
    a.transport.on('snapshot:failed', (e) => failed.push(e.error.code));
    const t0 = Date.now();
    expect(await a.transport.sendSnapshot(snapMsg(a.id, b.id), body, SIZE)).toBe('finish');
    expect(failed).toEqual([]);
    // The limiter held it (a lower bound: it holds however loaded the machine is).
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1200);
    expect(b.raft.snapshots[0]?.data.length).toBe(SIZE);
  });

  it('refuses a snapshotRateLimit that is not a positive number', () => {
    expect(() => makeCluster(1, { common: { snapshotRateLimit: 0 } })).toThrow(
      expect.objectContaining({ code: ErrorCode.INVALID_ARGUMENT }),
    );
  });

  it('paces a snapshot by heartbeat round trips with snapshotPacing: crowded round trips slow it, it still arrives whole', async () => {
    // Every measurable round trip during the snapshot counts as crowded (a 1 ns target), so after
    // the first the rate is at minBytesPerSecond and the chunks after it wait for the pacer.
    // A network that passes chunks of up to 1 MiB whole, so the receiver sees the sender's pieces.
    c = makeCluster(2, {
      net: new MemoryNetwork({ maxChunkBytes: 1 << 20, windowBytes: 4 << 20 }),
      common: { snapshotPacing: { targetMs: 1e-6, minBytesPerSecond: 1_000_000 } },
    });
    const [a, b] = [c.m(0), c.m(1)];
    await waitFor(() => streamsUp(a, b), 'streams');
    b.raft.onMessage = (m) => {
      if (m.type === MessageType.MsgHeartbeat) {
        b.transport.send([createMessage({ type: MessageType.MsgHeartbeatResp, from: b.id, to: a.id, term: m.term })]);
      }
    };
    const pacer = a.transport.get(b.id)?.snapshotSender.pacer;
    expect(pacer).toBeDefined();
    const got: Uint8Array[] = [];
    b.raft.receiveSnapshot = async (_m, body) => {
      for await (const chunk of body) got.push(chunk.slice());
    };
    let beating = true;
    const beats = (async () => {
      while (beating) {
        a.transport.send([createMessage({ type: MessageType.MsgHeartbeat, from: a.id, to: b.id, term: 1 })]);
        await new Promise((r) => setTimeout(r, 2));
      }
    })();
    // A 64 KiB chunk, then three of 200 KiB, which go paced in views of at most 64 KiB each.
    const CHUNK = 64 * 1024;
    const BIG = 200 * 1024;
    const SIZE = CHUNK + 3 * BIG;
    const expected = new Uint8Array(SIZE);
    for (let i = 0; i < SIZE; i++) expected[i] = (i * 7 + (i >> 16)) & 0xff;
    const body = (async function* () {
      yield expected.slice(0, CHUNK);
      // Hold the rest until round trips were seen while this snapshot is in flight.
      await waitFor(() => (pacer?.crowded ?? 0) >= 2, 'crowded round trips');
      for (let at = CHUNK; at < SIZE; at += BIG) yield expected.slice(at, at + BIG);
    })();
    try {
      expect(await a.transport.sendSnapshot(snapMsg(a.id, b.id), body, SIZE)).toBe('finish');
    } finally {
      beating = false;
      await beats;
    }
    const whole = new Uint8Array(SIZE);
    let n = 0;
    for (const c of got) {
      whole.set(c, n);
      n += c.length;
    }
    expect(n).toBe(SIZE);
    expect(whole).toEqual(expected);
    // The 200 KiB chunks after the cut arrived in pieces of at most 64 KiB (the network passes
    // 200 KiB whole: the unpaced first chunk arrived as one).
    expect(got.some((c) => c.length === CHUNK)).toBe(true);
    expect(Math.max(...got.map((c) => c.length))).toBeLessThanOrEqual(CHUNK);
    expect(pacer?.samplesDuring).toBeGreaterThanOrEqual(2);
    expect(pacer?.crowded).toBeGreaterThanOrEqual(2);
    // The bucket was empty at the cut: the chunks after it waited for the pacer.
    expect(pacer?.waitedMs).toBeGreaterThan(0);
  });

  it('refuses snapshotPacing options that are not positive numbers', () => {
    expect(() => makeCluster(1, { common: { snapshotPacing: { minBytesPerSecond: 0 } } })).toThrow(
      expect.objectContaining({ code: ErrorCode.INVALID_ARGUMENT }),
    );
  });

  it('delivers heartbeats on time while a 64 MiB snapshot body is in flight over a bandwidth-limited link', async () => {
    c = makeCluster(2);
    const [a, b] = [c.m(0), c.m(1)];
    await waitFor(() => streamsUp(a, b), 'streams');
    c.net.setFault(a.url, b.url, { bandwidth: 48 * 1024 * 1024 });
    let received = 0;
    b.raft.receiveSnapshot = async (_m, body) => {
      for await (const chunk of body) received += chunk.length;
    };
    const latencies: number[] = [];
    const sentAt = new Map<number, number>();
    b.raft.onMessage = (m) => {
      if (m.type === MessageType.MsgHeartbeat && received > 0 && received < SIZE) latencies.push(Date.now() - (sentAt.get(m.term) ?? 0));
    };
    const SIZE = 64 * 1024 * 1024;
    const chunk = new Uint8Array(256 * 1024).fill(7);
    const body = (async function* () {
      for (let sent = 0; sent < SIZE; sent += chunk.length) yield chunk;
    })();
    const progress: number[] = [];
    a.transport.on('snapshot:progress', (e) => progress.push(e.sent));
    let done = false;
    const sending = a.transport.sendSnapshot(snapMsg(a.id, b.id), body, SIZE).finally(() => {
      done = true;
    });
    let term = 1;
    while (!done) {
      sentAt.set(term, Date.now());
      a.transport.send([createMessage({ type: MessageType.MsgHeartbeat, from: a.id, to: b.id, term })]);
      term++;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(await sending).toBe('finish');
    expect(received).toBe(SIZE);
    expect(progress.at(-1)).toBe(SIZE);
    expect(latencies.length).toBeGreaterThanOrEqual(5);
    expect(Math.max(...latencies)).toBeLessThan(500);
  });
});
