/**
 * The Chromium measurements of the WebRTC benchmark: a page (bundled from
 * `_webrtc-page.ts`) runs them with the page's own WebRTC. Both members of a
 * case live in one JavaScript realm, so the raw channel and the transport
 * path share the same conditions. The Node stacks run each member in its own
 * process instead (`_webrtc-member.ts`).
 */
import { type Message, MessageType, type RaftCallbacks, Transport, createEntry, createMessage, createSnapshot } from '@raftwire/core';
import {
  CHANNELS,
  type DataChannelPort,
  InPageSignalingHub,
  type PeerConnectionFactory,
  type PeerConnectionPort,
  WebRtcLink,
  webrtcUrl,
} from '@raftwire/adapters/webrtc';

const CLUSTER = 0xbe4cn;
const FRAME = 16 * 1024;
const HIGH = 1024 * 1024;
const LOW = 256 * 1024;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function until(cond: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await sleep(5);
  }
}

export function quantile(xs: readonly number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * q))] ?? Number.NaN;
}

/**
 * Raw baseline: `total` bytes in 16 KiB messages on one data channel of a
 * bare peer-connection pair of the same stack, with the adapter's
 * backpressure rule (wait above 1 MiB buffered, resume at 256 KiB on
 * `bufferedamountlow` or a 5 ms poll). MB/s at the receiver.
 */
export async function rawThroughput(factory: PeerConnectionFactory, total: number): Promise<number> {
  const a = factory.create({ initiator: true, channels: CHANNELS });
  const b = factory.create({ initiator: false, channels: CHANNELS });
  const ports: PeerConnectionPort[] = [a, b];
  a.onSignal = (d) => b.signal(d);
  b.onSignal = (d) => a.signal(d);
  try {
    const tx = a.channels.get('msgapp') as DataChannelPort;
    const rx = b.channels.get('msgapp') as DataChannelPort;
    await until(() => tx.readyState === 'open' && rx.readyState === 'open', 'raw channels open');
    let got = 0;
    let t1 = 0;
    rx.onMessage = (d) => {
      got += d.length;
      if (got >= total) t1 = performance.now();
    };
    tx.bufferedAmountLowThreshold = LOW;
    let wake: (() => void) | undefined;
    tx.onBufferedAmountLow = () => wake?.();
    const frame = new Uint8Array(FRAME);
    const t0 = performance.now();
    for (let sent = 0; sent < total; sent += FRAME) {
      if (tx.bufferedAmount + FRAME > HIGH) {
        while (tx.bufferedAmount > LOW) {
          await new Promise<void>((r) => {
            wake = r;
            setTimeout(r, 5);
          });
        }
      }
      tx.send(frame);
    }
    await until(() => t1 > 0, 'raw bytes received', 120_000);
    return total / 1e6 / ((t1 - t0) / 1000);
  } finally {
    for (const p of ports) p.close();
    await Promise.all(ports.map((p) => p.closed));
  }
}

interface Member {
  id: bigint;
  link: WebRtcLink;
  transport: Transport;
}

interface Pair {
  a: Member;
  b: Member;
  close(): Promise<void>;
}

/** Two members (1 and 2) with real Transports over WebRtcLink, streams up both ways. */
async function transportPair(factory: PeerConnectionFactory, raftOf: (id: bigint) => RaftCallbacks): Promise<Pair> {
  const hub = new InPageSignalingHub(CLUSTER);
  const members: Member[] = [];
  for (const id of [1n, 2n]) {
    const link = await WebRtcLink.create({ localId: id, clusterId: CLUSTER, signaling: hub, peerConnectionFactory: factory });
    const transport = new Transport({ id, clusterId: CLUSTER, urls: [webrtcUrl(id)], link, raft: raftOf(id) });
    link.setHandler(transport.handler);
    transport.start();
    members.push({ id, link, transport });
  }
  const [a, b] = members as [Member, Member];
  a.transport.addPeer(2n, [webrtcUrl(2n)]);
  b.transport.addPeer(1n, [webrtcUrl(1n)]);
  await until(() => {
    const pa = a.transport.get(2n);
    const pb = b.transport.get(1n);
    return !!(pa?.msgAppWriter.working && pa.messageWriter.working && pb?.msgAppReader.working && pb.messageReader.working);
  }, 'streams up');
  return {
    a,
    b,
    close: async () => {
      await Promise.all(members.map((m) => m.transport.stop()));
      await Promise.all(members.map((m) => m.link.close()));
    },
  };
}

const nullRaft = (): RaftCallbacks => ({
  process: () => {},
  isIdRemoved: () => false,
  reportUnreachable: () => {},
  reportSnapshot: () => {},
});

/**
 * `total` bytes of entry data as MsgApps (4 entries of 16 KiB each) from
 * member 1 to member 2 through `Transport.send`, i.e. the msgappv2 stream.
 * The producer keeps at most 4 MiB unacknowledged (raft's inflight limit
 * plays this role). MB/s of entry data processed at the receiver.
 */
export async function transportThroughput(factory: PeerConnectionFactory, total: number): Promise<{ mbps: number; dropped: number }> {
  const ENTRY = 16 * 1024;
  const PER_MSG = 4;
  const WINDOW = 4 * 1024 * 1024;
  let got = 0;
  let t1 = 0;
  let wake: (() => void) | undefined;
  const pair = await transportPair(factory, (id) => ({
    ...nullRaft(),
    process: (m: Message) => {
      if (id !== 2n || m.type !== MessageType.MsgApp) return;
      for (const e of m.entries) got += e.data.length;
      if (got >= total && t1 === 0) t1 = performance.now();
      wake?.();
    },
  }));
  let dropped = 0;
  pair.a.transport.on('message:dropped', () => dropped++);
  try {
    const data = new Uint8Array(ENTRY).fill(7);
    let sent = 0;
    let index = 0;
    const t0 = performance.now();
    while (sent < total) {
      while (sent - got >= WINDOW) {
        await new Promise<void>((r) => {
          wake = r;
        });
      }
      const entries = [];
      for (let i = 0; i < PER_MSG && sent < total; i++, sent += ENTRY) entries.push(createEntry({ term: 1, index: ++index, data }));
      pair.a.transport.send([
        createMessage({
          type: MessageType.MsgApp,
          from: 1n,
          to: 2n,
          term: 1,
          logTerm: 1,
          index: index - entries.length,
          commit: index,
          entries,
        }),
      ]);
    }
    await until(() => t1 > 0 || dropped > 0, 'entries received', 120_000);
    return { mbps: total / 1e6 / ((t1 - t0) / 1000), dropped };
  } finally {
    await pair.close();
  }
}

/**
 * Raft heartbeats from member 1 to member 2 every `periodMs`, answered at
 * once (MsgHeartbeatResp on the message stream). `rounds` times: round
 * trips while idle for `idleMs`, then while member 1 streams a
 * `snapshotBytes` snapshot to member 2 — idle and busy phases alternate so
 * both see the same machine load. Milliseconds; a heartbeat never answered
 * counts as infinitely late.
 */
export async function heartbeatRtt(
  factory: PeerConnectionFactory,
  snapshotBytes: number,
  rounds = 3,
  periodMs = 10,
  idleMs = 1000,
): Promise<{ idle: number[]; during: number[]; snapshotMbps: number }> {
  const sentAt = new Map<number, number>();
  const rtt = new Map<number, number>();
  let pair: Pair | undefined;
  pair = await transportPair(factory, (id) => ({
    ...nullRaft(),
    process: (m: Message) => {
      if (id === 2n && m.type === MessageType.MsgHeartbeat) {
        pair?.b.transport.send([createMessage({ type: MessageType.MsgHeartbeatResp, from: 2n, to: 1n, term: 1, commit: m.commit })]);
      } else if (id === 1n && m.type === MessageType.MsgHeartbeatResp) {
        const t = sentAt.get(m.commit);
        if (t !== undefined) rtt.set(m.commit, performance.now() - t);
      }
    },
    receiveSnapshot: async (_m, body) => {
      for await (const _ of body) {
        // take the bytes and nothing else: the receiver should cost as little as possible
      }
    },
  }));
  const p = pair;
  let seq = 0;
  const timer = setInterval(() => {
    seq++;
    sentAt.set(seq, performance.now());
    p.a.transport.send([createMessage({ type: MessageType.MsgHeartbeat, from: 1n, to: 2n, term: 1, commit: seq })]);
  }, periodMs);
  const idle: [number, number][] = [];
  const during: [number, number][] = [];
  let snapshotMs = 0;
  try {
    await sleep(200); // warm-up
    for (let r = 0; r < rounds; r++) {
      const idleFrom = seq + 1;
      await sleep(idleMs);
      idle.push([idleFrom, seq]);
      async function* body(): AsyncGenerator<Uint8Array> {
        const chunk = new Uint8Array(256 * 1024).fill(3);
        for (let at = 0; at < snapshotBytes; at += chunk.length) yield chunk;
      }
      const msg = createMessage({
        type: MessageType.MsgSnap,
        from: 1n,
        to: 2n,
        term: 1,
        snapshot: createSnapshot({ metadata: { index: 9 + r, term: 1 } }),
      });
      const duringFrom = seq + 1;
      const t0 = performance.now();
      const status = await p.a.transport.sendSnapshot(msg, body(), snapshotBytes);
      snapshotMs += performance.now() - t0;
      during.push([duringFrom, seq]);
      if (status !== 'finish') throw new Error(`snapshot ${status}`);
    }
    await sleep(300); // the last answers come in
    const pick = (ranges: [number, number][]) => {
      const out: number[] = [];
      for (const [from, to] of ranges) for (let s = from; s <= to; s++) out.push(rtt.get(s) ?? Number.POSITIVE_INFINITY);
      return out;
    };
    return { idle: pick(idle), during: pick(during), snapshotMbps: (rounds * snapshotBytes) / 1e6 / (snapshotMs / 1000) };
  } finally {
    clearInterval(timer);
    await p.close();
  }
}
