import { afterEach, describe, expect, it } from 'vitest';
import {
  type HandlerRequest,
  type HandlerResponse,
  type Message,
  MessageStreamDecoder,
  MessageType,
  type ProtocolHandler,
  Transport,
  type TransportOptions,
  createEntry,
  createMessage,
  messagesEqual,
  systemClock,
} from '../src/index.js';
import { MemoryLogger, MemoryNetwork, RecordingRaft, waitFor } from '@raftwire/core/testing';
import { isLinkHeartbeat } from '../src/message.js';
import { OutgoingConn } from '../src/outgoing-conn.js';
import { CLUSTER, type Cluster, makeCluster, streamsUp } from './fixtures.js';

let cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

function cluster(n: number, opts: Parameters<typeof makeCluster>[1] = {}): Cluster {
  const c = makeCluster(n, opts);
  cleanups.push(() => c.stop());
  return c;
}

const FAKE = 'memory://fake';

/** Member 1 whose peer 2 is served by `handler`. */
function withFakePeer(handler: ProtocolHandler, extra: Partial<TransportOptions> = {}) {
  const net = new MemoryNetwork();
  const raft = new RecordingRaft();
  const logger = new MemoryLogger();
  net.serve(FAKE, handler);
  const t = new Transport({
    id: 1n,
    clusterId: CLUSTER,
    urls: ['memory://n0'],
    link: net.link('memory://n0'),
    raft,
    logger,
    ...extra,
    timeouts: { probe: 60_000, ...extra.timeouts },
  });
  t.start();
  cleanups.push(async () => {
    await t.stop();
    net.close();
  });
  return { t, raft, logger, net };
}

/** A peer whose URL nothing serves: its readers fail to dial and its writers wait for manual attaches. */
function lonePeer(extra: Partial<TransportOptions> = {}) {
  const f = withFakePeer(async () => ({ status: 404, headers: { 'x-server-version': '1.0.0' } }), extra);
  f.t.addPeer(2n, [FAKE]);
  return { ...f, peer: f.t.get(2n)! };
}

/** Reads chunks until they hold `n` messages other than link heartbeats; returns the count per chunk. */
async function readMessages(
  it: AsyncIterator<Uint8Array>,
  n: number,
  dec = new MessageStreamDecoder(),
): Promise<{ msgs: Message[]; perChunk: number[] }> {
  const msgs: Message[] = [];
  const perChunk: number[] = [];
  while (msgs.length < n) {
    const r = await it.next();
    if (r.done) throw new Error('stream ended');
    const got = dec.push(r.value).filter((m) => !isLinkHeartbeat(m));
    if (got.length > 0) perChunk.push(got.length);
    msgs.push(...got);
  }
  return { msgs, perChunk };
}

const prop = (i: number) =>
  createMessage({ type: MessageType.MsgProp, from: 1n, to: 2n, index: i, entries: [createEntry({ data: new Uint8Array([i]) })] });

describe('stream writer', () => {
  it('replaces the old connection on every attach and writes to the new one (TestStreamWriterAttachOutgoingConn)', async () => {
    const { t, peer } = lonePeer();
    const w = peer.messageWriter;
    expect(w.working).toBe(false);
    let last: OutgoingConn | undefined;
    let lastIt: AsyncIterator<Uint8Array> | undefined;
    for (let i = 0; i < 3; i++) {
      const conn = new OutgoingConn(systemClock);
      expect(peer.attachOutgoing('message', conn)).toBe(true);
      if (last) {
        expect(last.closed).toBe(true);
        expect((await lastIt!.next()).done).toBe(true);
      }
      expect(w.working).toBe(true);
      const it = conn[Symbol.asyncIterator]();
      const m = prop(i);
      t.send([m]);
      const { msgs } = await readMessages(it, 1);
      expect(messagesEqual(msgs[0]!, m)).toBe(true);
      last = conn;
      lastIt = it;
    }
    t.removePeer(2n);
    await waitFor(() => last!.closed && !w.working, 'writer stopped and last conn closed', 1000);
    // an attach after stop is refused and the conn closed
    const late = new OutgoingConn(systemClock);
    expect(w.attach(late)).toBe(false);
    expect(late.closed).toBe(true);
  });

  it('drops a connection whose reader goes away (TestStreamWriterAttachBadOutgoingConn)', async () => {
    const { peer } = lonePeer();
    const conn = new OutgoingConn(systemClock);
    peer.attachOutgoing('message', conn);
    await conn[Symbol.asyncIterator]().return?.();
    await waitFor(() => !peer.messageWriter.working, 'writer not working', 1000);
  });

  it('kills a connection whose writes stall past the write timeout and tells raft once', async () => {
    const { t, peer, raft } = lonePeer({ timeouts: { write: 150 } });
    const conn = new OutgoingConn(systemClock);
    peer.attachOutgoing('message', conn);
    t.send([prop(1), prop(2), prop(3)]); // nobody reads the conn
    await waitFor(() => conn.closed, 'conn closed by write timeout', 2000);
    expect(peer.messageWriter.working).toBe(false);
    expect(raft.unreachable).toEqual([2n]);
  });

  it('batches frames while the queue is non-empty and flushes when it empties or the batch is full', async () => {
    const { t, peer } = lonePeer({ buffers: { batchMessages: 10 } });
    const conn = new OutgoingConn(systemClock);
    peer.attachOutgoing('message', conn);
    const it = conn[Symbol.asyncIterator]();
    t.send(Array.from({ length: 25 }, (_, i) => prop(i)));
    const { perChunk } = await readMessages(it, 25);
    expect(perChunk).toEqual([10, 10, 5]);
  });

  it('reuses a batch buffer only once a releasing consumer hands it back, and never for one that does not release', async () => {
    const { t, peer } = lonePeer({ buffers: { batchMessages: 10 } });
    const conn = new OutgoingConn(systemClock);
    conn.acceptReleases();
    peer.attachOutgoing('message', conn);
    const it = conn[Symbol.asyncIterator]();
    const dec = new MessageStreamDecoder();
    const held: { chunk: Uint8Array; copy: Uint8Array }[] = [];
    const released = new Set<ArrayBufferLike>();
    let reused = 0;
    let got = 0;
    for (let round = 0; round < 20; round++) {
      t.send(Array.from({ length: 10 }, (_, i) => prop(round * 10 + i)));
      let n = 0;
      while (n < 10) {
        const r = await it.next();
        if (r.done) throw new Error('stream ended');
        const chunk = r.value;
        n += dec.push(chunk).filter((m) => !isLinkHeartbeat(m)).length;
        if (released.has(chunk.buffer)) reused++;
        // Hold every third chunk (as a socket still writing it would), release the rest at once.
        if (round % 3 === 0) held.push({ chunk, copy: chunk.slice() });
        else {
          released.add(chunk.buffer);
          conn.releaseChunk(chunk);
        }
      }
      got += n;
      // A chunk still held is never written over by later batches.
      for (const h of held) expect(h.chunk).toEqual(h.copy);
    }
    expect(got).toBe(200);
    expect(reused).toBeGreaterThan(0);
    for (const h of held) conn.releaseChunk(h.chunk);

    // A consumer that never promised to release gets a buffer of its own for every chunk.
    const plain = new OutgoingConn(systemClock);
    peer.attachOutgoing('message', plain);
    const pit = plain[Symbol.asyncIterator]();
    const pdec = new MessageStreamDecoder();
    const kept: { chunk: Uint8Array; copy: Uint8Array }[] = [];
    for (let round = 0; round < 5; round++) {
      t.send(Array.from({ length: 10 }, (_, i) => prop(i)));
      let n = 0;
      while (n < 10) {
        const r = await pit.next();
        if (r.done) throw new Error('stream ended');
        const msgs = pdec.push(r.value).filter((m) => !isLinkHeartbeat(m));
        n += msgs.length;
        if (msgs.length > 0) kept.push({ chunk: r.value, copy: r.value.slice() });
      }
    }
    expect(new Set(kept.map((k) => k.chunk.buffer)).size).toBe(kept.length);
    for (const k of kept) expect(k.chunk).toEqual(k.copy);
  });

  it('drops a message that cannot be encoded without closing the stream', async () => {
    const { t, peer, raft } = lonePeer();
    const conn = new OutgoingConn(systemClock);
    peer.attachOutgoing('message', conn);
    const it = conn[Symbol.asyncIterator]();
    const bad = { ...prop(1), term: -1 };
    t.send([bad, prop(2)]);
    const { msgs } = await readMessages(it, 1);
    expect(msgs[0]?.index).toBe(2);
    expect(conn.closed).toBe(false);
    expect(raft.unreachable).toEqual([2n]);
  });

  it('discards queued messages when the stream closes and reports unreachable once', async () => {
    const { t, peer, raft } = lonePeer();
    const conn = new OutgoingConn(systemClock);
    peer.attachOutgoing('message', conn);
    const dropped: string[] = [];
    t.on('message:dropped', (e) => dropped.push(e.reason));
    // the opening link heartbeat is pending on the unread conn; messages queue behind it
    await new Promise((r) => setTimeout(r, 10));
    t.send(Array.from({ length: 10 }, (_, i) => prop(i)));
    expect(peer.messageWriter.queued).toBe(10);
    await conn[Symbol.asyncIterator]().return?.();
    expect(peer.messageWriter.queued).toBe(0);
    expect(raft.unreachable).toEqual([2n]);
    expect(dropped).toEqual(['stream-closed']);
  });
});

describe('stream reader', () => {
  function recordingPeer(
    respond: (req: HandlerRequest) => Promise<HandlerResponse> | HandlerResponse,
    extra: Partial<TransportOptions> = {},
  ) {
    const dials: HandlerRequest[] = [];
    const f = withFakePeer(async (req) => {
      if (req.path === '/raft/probing') {
        return { status: 200, headers: {}, body: new TextEncoder().encode(JSON.stringify({ OK: true, Now: new Date().toISOString() })) };
      }
      if (!req.path.startsWith('/raft/stream/')) return { status: 404, headers: { 'x-server-version': '1.0.0' } };
      dials.push(req);
      return respond(req);
    }, extra);
    return { ...f, dials };
  }

  it('dials both stream types with the right path and headers (TestStreamReaderDialRequest)', async () => {
    const f = recordingPeer(() => ({ status: 404, headers: { 'x-server-version': '1.0.0' } }));
    f.t.addPeer(2n, [FAKE]);
    await waitFor(() => f.dials.length >= 2, 'two dials');
    const paths = f.dials.map((d) => d.path).sort();
    expect(paths.slice(0, 2)).toEqual(['/raft/stream/message/1', '/raft/stream/msgapp/1']);
    for (const d of f.dials) {
      expect(d.method).toBe('GET');
      expect(d.headers['x-etcd-cluster-id']).toBe('1000');
      expect(d.headers['x-raft-to']).toBe('2');
    }
    expect(f.logger.find('failed to find local node 1').length).toBeGreaterThan(0);
  });

  it('maps dial results: 200 works, 405/404/412 fail without removal, 410 removes (TestStreamReaderDialResult)', async () => {
    for (const status of [405, 404, 412, 410, 200]) {
      const f = recordingPeer((req) =>
        status === 200
          ? { status, headers: { 'x-server-version': '1.0.0' }, body: new OutgoingConn(systemClock, req.signal) }
          : {
              status,
              headers: { 'x-server-version': '1.0.0' },
              body: new TextEncoder().encode(status === 412 ? 'incompatible version\n' : 'x\n'),
            },
      );
      let removed = 0;
      f.t.on('removed', () => removed++);
      f.t.addPeer(2n, [FAKE]);
      const peer = f.t.get(2n)!;
      if (status === 200) {
        await waitFor(() => peer.messageReader.working && peer.msgAppReader.working, 'readers working', 2000);
        expect(f.t.activeSince(2n)).toBeGreaterThan(0);
      } else {
        await waitFor(() => f.dials.length >= 6, 'several redials', 3000);
        expect(peer.messageReader.working).toBe(false);
        // 410 is reported once (both readers get it; `removed` is emitted at most once a second per remote), not on every redial
        expect(removed).toBe(status === 410 ? 1 : 0);
      }
      if (status === 412) expect(f.logger.find('server version incompatibility').length).toBeGreaterThan(0);
      for (const c of cleanups.splice(0).reverse()) await c();
    }
  });

  it('redials at most every dialRetry ms', async () => {
    const f = recordingPeer(() => ({ status: 500, headers: { 'x-server-version': '1.0.0' } }), { timeouts: { dialRetry: 100 } });
    f.t.addPeer(2n, [FAKE]);
    await new Promise((r) => setTimeout(r, 550));
    const n = f.dials.length;
    // two readers, ≤ 1 dial each per 100 ms (+1 for the first)
    expect(n).toBeGreaterThanOrEqual(2);
    expect(n).toBeLessThanOrEqual(2 * 7);
  });

  it('stops promptly while a dial hangs (TestStreamReaderStopOnDial)', async () => {
    const f = recordingPeer(
      (req) =>
        new Promise<HandlerResponse>((resolve) =>
          req.signal.addEventListener('abort', () => resolve({ status: 503, headers: {} }), { once: true }),
        ),
      { timeouts: { dial: 60_000 } },
    );
    f.t.addPeer(2n, [FAKE]);
    await waitFor(() => f.dials.length >= 2, 'dials in flight');
    const t0 = Date.now();
    await f.t.stop();
    expect(Date.now() - t0).toBeLessThan(1000);
  });

  it('gives up a dial that does not answer within the dial timeout', async () => {
    const f = recordingPeer(
      (req) =>
        new Promise<HandlerResponse>((resolve) =>
          req.signal.addEventListener('abort', () => resolve({ status: 503, headers: {} }), { once: true }),
        ),
      { timeouts: { dial: 100 } },
    );
    f.t.addPeer(2n, [FAKE]);
    await waitFor(() => f.dials.length >= 6, 'redials after dial timeouts', 3000);
  });

  it('treats a 404 without a version header as an unsupported old remote, silently (TestStreamReaderDialDetectUnsupport)', async () => {
    const f = recordingPeer(() => ({ status: 404, headers: {} }), { timeouts: { unsupportedRetry: 60_000 } });
    f.t.addPeer(2n, [FAKE]);
    await waitFor(() => f.dials.length >= 2, 'one dial per type');
    await new Promise((r) => setTimeout(r, 300));
    expect(f.dials.length).toBe(2); // no fast redial
    expect(f.logger.records.filter((r) => r.level === 'warn' || r.level === 'error')).toEqual([]);
  });

  it('carries MsgProp and MsgApp on the message stream and MsgApp on the msgapp stream (TestStream)', async () => {
    const c = cluster(2);
    const [a, b] = [c.m(0), c.m(1)];
    await waitFor(() => streamsUp(a, b), 'streams');
    const pa = a.transport.get(b.id)!;
    const app = createMessage({
      type: MessageType.MsgApp,
      from: a.id,
      to: b.id,
      term: 1,
      logTerm: 1,
      index: 0,
      entries: [createEntry({ term: 1, index: 1 })],
    });
    const p = prop(1);
    expect(pa.pick(app)).toBe('streamMsgAppV2');
    expect(pa.pick(p)).toBe('streamMsg');
    a.transport.send([p, app]);
    await waitFor(() => b.raft.received.length === 2, 'both');
    expect(b.raft.received.some((m) => messagesEqual(m, app))).toBe(true);
    expect(b.raft.received.some((m) => messagesEqual(m, p))).toBe(true);
    expect(b.seen.filter((r) => r.path === '/raft')).toEqual([]);
  });

  it('keeps an idle stream alive with link heartbeats every read/3', async () => {
    const c = cluster(2, { common: { timeouts: { read: 300 } } });
    const [a, b] = [c.m(0), c.m(1)];
    await waitFor(() => streamsUp(a, b), 'streams');
    const pa = a.transport.get(b.id)!;
    const dials = pa.messageReader.established + pa.msgAppReader.established;
    await new Promise((r) => setTimeout(r, 1500));
    expect(pa.messageReader.established + pa.msgAppReader.established).toBe(dials);
    expect(a.logger.find('lost TCP streaming connection')).toEqual([]);
    expect(b.raft.received).toEqual([]); // heartbeats are dropped by the reader
  });

  it('detects a half-open stream by its read timeout and reconnects after the partition heals', async () => {
    const c = cluster(2, { common: { timeouts: { read: 300, write: 300, dial: 200 } } });
    const [a, b] = [c.m(0), c.m(1)];
    await waitFor(() => streamsUp(a, b), 'streams');
    const pa = a.transport.get(b.id)!;
    const dials = pa.messageReader.established;
    c.net.partition([a.url], [b.url]);
    await waitFor(() => !pa.messageReader.working, 'reader noticed', 3000);
    expect(a.logger.find('lost TCP streaming connection').some((r) => String(r.fields.error).includes('no data on the stream'))).toBe(true);
    c.net.heal();
    await waitFor(() => streamsUp(a, b) && pa.messageReader.established > dials, 'reconnected', 5000);
  });

  it('never closes a working stream because the term changed', async () => {
    const c = cluster(2);
    const [a, b] = [c.m(0), c.m(1)];
    await waitFor(() => streamsUp(a, b), 'streams');
    const pb = b.transport.get(a.id)!;
    const msgs: Message[] = [];
    for (let term = 1; term <= 20; term++)
      msgs.push(createMessage({ type: MessageType.MsgApp, from: a.id, to: b.id, term, logTerm: term, index: term }));
    a.transport.send(msgs);
    await waitFor(() => b.raft.received.length === 20, 'all');
    expect(pb.msgAppReader.established).toBe(1);
  });

  it('falls back silently to the message stream when the remote is too old for msgapp', async () => {
    const table = { '0.9': ['message'] as const, '1.0': ['msgappv2', 'message'] as const };
    const c = cluster(2, {
      common: { streamSupport: table, minClusterVersion: '0.9.0', timeouts: { unsupportedRetry: 60_000 } },
      per: (i) => (i === 1 ? { version: '0.9.0' } : {}),
    });
    const [a, b] = [c.m(0), c.m(1)];
    const pa = a.transport.get(b.id)!;
    const pb = b.transport.get(a.id)!;
    await waitFor(() => pa.messageWriter.working && pb.messageWriter.working, 'message streams');
    const ab = createMessage({ type: MessageType.MsgApp, from: a.id, to: b.id, term: 1, index: 1 });
    const ba = createMessage({ type: MessageType.MsgApp, from: b.id, to: a.id, term: 1, index: 1 });
    expect(pa.pick(ab)).toBe('streamMsg');
    expect(pb.pick(ba)).toBe('streamMsg');
    a.transport.send([ab]);
    b.transport.send([ba]);
    await waitFor(() => a.raft.received.length === 1 && b.raft.received.length === 1, 'both delivered');
    expect(pa.msgAppWriter.working || pb.msgAppWriter.working || pa.msgAppReader.working).toBe(false);
    expect(a.logger.records.filter((r) => r.level === 'error' || (r.level === 'warn' && r.msg.includes('inactive')))).toEqual([]);
  });
});
