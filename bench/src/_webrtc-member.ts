/**
 * One Node member of `pnpm bench webrtc`, in its own process (forked by
 * webrtc.ts with an IPC channel): `_webrtc-member.ts <stack> <1|2> <relay base URL> [snapshotRateLimit bytes/s]`.
 * Signalling goes through the parent's HTTP relay (`HttpRelaySignaling`),
 * so the two members share nothing but the machine. Commands arrive as IPC
 * messages `{id, cmd, ...}` and each is answered `{id, ...}`:
 *
 * - `raw {round, total}`: a bare peer connection of the same stack; member 1
 *   sends `total` bytes in 16 KiB messages on the msgapp channel with the
 *   adapter's backpressure rule, member 2 counts them. Answers `t0` (sender,
 *   wall clock ms) / `t1` (receiver, all bytes in).
 * - `up`: a Transport over a WebRtcLink, peer added, streams attached.
 * - `expect {total}` (member 2), `flood {total}` (member 1): MsgApps of 4 ×
 *   16 KiB entries; member 2 answers each with a MsgAppResp (as raft does),
 *   member 1 keeps at most 4 MiB unacknowledged (raft's inflight limit).
 * - `hb-start {periodMs}` / `phase {phase}` / `snapshot {size, index}` /
 *   `hb-stop`: MsgHeartbeats every period from member 1, answered by member
 *   2 with MsgHeartbeatResp; each round trip is filed under the phase it was
 *   sent in (`during` only while `sendSnapshot` is pending). Each member keeps
 *   its event-loop delay per phase.
 * - `down`, `exit` (always `process.exit()`: @roamhq/wrtc crashes at a natural exit).
 *
 * `RAFTWIRE_BENCH_HB_TRACE=<prefix>` writes per-hop timestamps of the heartbeats sent during
 * snapshots (see below; `node --import tsx bench/src/_webrtc-hb-trace.ts <prefix>` reads them).
 */
import { writeFileSync } from 'node:fs';
import {
  type Message,
  MessageType,
  type RaftCallbacks,
  Transport,
  createEntry,
  createMessage,
  createSnapshot,
  formatId,
} from '@raftwire/core';
import {
  CHANNELS,
  type DataChannelPort,
  HttpRelaySignaling,
  type PeerConnectionPort,
  type SignalMessage,
  type SignalingEndpoint,
  WebRtcLink,
  webrtcUrl,
} from '@raftwire/adapters/webrtc';
import { type NodeWebRtcStack, nodePeerConnectionFactory } from '@raftwire/adapters/webrtc/node';

const BENCH_CLUSTER = 0xbe4cn;
const [stackArg, idArg, relayUrl, rateArg] = process.argv.slice(2);
const snapshotRateLimit = rateArg === undefined ? undefined : Number(rateArg);
/** webrtc.ts `--snapshot-pacing`: core's opt-in snapshot pacer (off by default). */
const snapshotPacing = process.env.RAFTWIRE_BENCH_SNAPSHOT_PACING === '1';
const stack = stackArg as NodeWebRtcStack;
const me = BigInt(idArg ?? '0');
const other = me === 1n ? 2n : 1n;
const FRAME = 16 * 1024;
const HIGH = 1024 * 1024;
const LOW = 256 * 1024;
const now = (): number => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const factory = nodePeerConnectionFactory({ stack });
const signaling = new HttpRelaySignaling({ baseUrl: relayUrl ?? '' });

type Cmd = { id: number; cmd: string } & Record<string, unknown>;
const reply = (id: number, body: Record<string, unknown> = {}): void => {
  process.send?.({ id, ...body });
};

async function until(cond: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`member ${me}: timed out: ${what}`);
    await sleep(5);
  }
}

// ---- raw baseline: a bare port pair, signals through the relay under ids 0x11 / 0x12 ----
const RAW = (id: bigint) => 0x10n + id;
let rawEndpoint: SignalingEndpoint | undefined;
let rawPort: PeerConnectionPort | undefined;
let rawSession = '';
const earlySignals: SignalMessage[] = [];

async function rawJoin(): Promise<SignalingEndpoint> {
  rawEndpoint ??= await signaling.join({
    clusterId: BENCH_CLUSTER,
    memberId: RAW(me),
    onSignal: (m) => {
      if (m.kind !== 'signal' || m.data === undefined) return;
      if (rawPort !== undefined && m.session === rawSession) rawPort.signal(m.data);
      else earlySignals.push(m);
    },
  });
  return rawEndpoint;
}

async function raw(round: number, total: number): Promise<Record<string, unknown>> {
  const ep = await rawJoin();
  rawSession = `raw-${round}`;
  const port = factory.create({ initiator: me === 1n, channels: CHANNELS });
  rawPort = port;
  port.onSignal = (data) => {
    void ep
      .send({
        clusterId: formatId(BENCH_CLUSTER),
        from: formatId(RAW(me)),
        to: formatId(RAW(other)),
        kind: 'signal',
        session: rawSession,
        data,
      })
      .catch((e: unknown) => console.error(`member ${me}: raw signal not sent: ${String(e)}`));
  };
  for (const m of earlySignals.splice(0)) if (m.session === rawSession && m.data) port.signal(m.data);
  try {
    const ch = port.channels.get('msgapp') as DataChannelPort;
    if (me === 2n) {
      let got = 0;
      let t1 = 0;
      ch.onMessage = (d) => {
        got += d.length;
        if (got >= total && t1 === 0) t1 = now();
      };
      await until(() => t1 > 0, 'raw bytes received', 120_000);
      return { t1 };
    }
    await until(() => ch.readyState === 'open', 'raw channel open');
    ch.bufferedAmountLowThreshold = LOW;
    let wake: (() => void) | undefined;
    ch.onBufferedAmountLow = () => wake?.();
    const frame = new Uint8Array(FRAME);
    const t0 = now();
    for (let sent = 0; sent < total; sent += FRAME) {
      if (ch.bufferedAmount + FRAME > HIGH) {
        while (ch.bufferedAmount > LOW) {
          await new Promise<void>((r) => {
            wake = r;
            setTimeout(r, 5);
          });
        }
      }
      ch.send(frame);
    }
    // Stay connected until the receiver has everything (the parent closes us with `raw-close`).
    return { t0 };
  } catch (e) {
    port.close();
    throw e;
  }
}

async function rawClose(): Promise<void> {
  const p = rawPort;
  rawPort = undefined;
  if (p === undefined) return;
  p.close();
  await p.closed;
}

// ---- the Transport over a WebRtcLink ----
let link: WebRtcLink | undefined;
let transport: Transport | undefined;
let dropped = 0;
// throughput
let expectTotal = 0;
let got = 0;
let t1 = 0;
let acked = 0;
let ackWake: (() => void) | undefined;
// heartbeats
type Phase = 'none' | 'idle' | 'during';
let phase: Phase = 'none';
let hbTimer: ReturnType<typeof setInterval> | undefined;
let seq = 0;
const hbSent = new Map<number, { at: number; phase: Phase }>();
const rtts: Record<'idle' | 'during', number[]> = { idle: [], during: [] };
// Event-loop delay per phase: a 2 ms timer's lateness, sampled while a phase is on (own sampler, so
// the two phases' samples never mix and a phase switch leaves no artificial gap in them).
const eld: Record<'idle' | 'during', number[]> = { idle: [], during: [] };
const ELD_TICK = 2;
let eldTimer: ReturnType<typeof setTimeout> | undefined;
function eldSample(due: number): void {
  eldTimer = setTimeout(() => {
    const t = performance.now();
    if (phase !== 'none') eld[phase].push(Math.max(0, t - due));
    eldSample(t + ELD_TICK);
  }, ELD_TICK);
}

function setPhase(p: Phase): void {
  phase = p;
  if (p !== 'none' && eldTimer === undefined) eldSample(performance.now() + ELD_TICK);
  if (p === 'none' && eldTimer !== undefined) {
    clearTimeout(eldTimer);
    eldTimer = undefined;
  }
}

const raft: RaftCallbacks = {
  process: (m: Message) => {
    switch (m.type) {
      case MessageType.MsgApp: {
        for (const e of m.entries) got += e.data.length;
        if (got >= expectTotal && t1 === 0 && expectTotal > 0) t1 = now();
        const last = m.entries[m.entries.length - 1];
        transport?.send([
          createMessage({ type: MessageType.MsgAppResp, from: me, to: m.from, term: 1, index: last ? last.index : m.index }),
        ]);
        return;
      }
      case MessageType.MsgAppResp:
        acked = Math.max(acked, m.index);
        ackWake?.();
        return;
      case MessageType.MsgHeartbeat:
        if (HBT && phase === 'during') tr.hbProc?.push(m.commit, now());
        transport?.send([createMessage({ type: MessageType.MsgHeartbeatResp, from: me, to: m.from, term: 1, commit: m.commit })]);
        return;
      case MessageType.MsgHeartbeatResp: {
        const s = hbSent.get(m.commit);
        if (HBT && s?.phase === 'during') tr.resp?.push(m.commit, now(), s.at);
        hbSent.delete(m.commit);
        if (s !== undefined && s.phase !== 'none') rtts[s.phase].push(performance.now() - s.at);
        return;
      }
    }
  },
  isIdRemoved: () => false,
  reportUnreachable: () => {},
  reportSnapshot: () => {},
  receiveSnapshot: async (_m, body) => {
    for await (const _ of body) {
      // take the bytes and nothing else: the receiver should cost as little as possible
    }
  },
};

async function up(): Promise<void> {
  link = await WebRtcLink.create({ localId: me, clusterId: BENCH_CLUSTER, signaling, peerConnectionFactory: factory });
  transport = new Transport({
    id: me,
    clusterId: BENCH_CLUSTER,
    urls: [webrtcUrl(me)],
    link,
    raft,
    ...(snapshotRateLimit === undefined ? {} : { snapshotRateLimit }),
    ...(snapshotPacing ? { snapshotPacing: true } : {}),
  });
  link.setHandler(transport.handler);
  transport.on('message:dropped', () => dropped++);
  transport.start();
  transport.addPeer(other, [webrtcUrl(other)]);
  const t = transport;
  hbTraceHook();
  await until(() => {
    const p = t.get(other);
    return !!(p?.messageWriter.working && p.messageReader.working && (me === 1n ? p.msgAppWriter.working : p.msgAppReader.working));
  }, 'streams up');
}

// ---- RAFTWIRE_BENCH_HB_TRACE=<prefix>: per-hop timestamps of the heartbeats during snapshots ----
// Wall-clock ms (performance.timeOrigin + now()) of every DATA frame sent and received on the
// message and snapshot channels while a snapshot is on, of each MsgHeartbeat processed (member 2)
// and each answer processed (member 1); written to <prefix>-<member>.json at `hb-stop` and read
// by `_webrtc-hb-trace.ts`. Off by default: the wrappers add a call per frame.
const HBT = process.env.RAFTWIRE_BENCH_HB_TRACE;
const tr: Record<string, number[]> = { msgSend: [], msgRecv: [], snapSend: [], snapRecv: [], hbProc: [], resp: [] };
function hbTraceHook(): void {
  if (!HBT) return;
  const l = link as WebRtcLink;
  const tick = () => {
    const c = l.connection(other);
    if (c === undefined || c.state !== 'open') {
      setTimeout(tick, 5);
      return;
    }
    for (const label of ['message', 'snapshot']) {
      const ch = c.peerConnection.channels.get(label) as DataChannelPort;
      const send = ch.send.bind(ch);
      const k = label === 'message' ? 'msg' : 'snap';
      (ch as { send: (d: Uint8Array) => void }).send = (d) => {
        if (phase === 'during' && ((d[0] ?? 0) & 0x0f) === 2) tr[`${k}Send`]?.push(now(), d.length);
        send(d);
      };
      const prev = ch.onMessage;
      ch.onMessage = (d) => {
        if (phase === 'during' && ((d[0] ?? 0) & 0x0f) === 2) tr[`${k}Recv`]?.push(now(), d.length);
        prev?.(d);
      };
    }
  };
  tick();
}

async function down(): Promise<void> {
  await transport?.stop();
  await link?.close();
  transport = undefined;
  link = undefined;
}

async function flood(total: number): Promise<Record<string, unknown>> {
  const ENTRY = 16 * 1024;
  const PER_MSG = 4;
  const WINDOW_ENTRIES = (4 * 1024 * 1024) / ENTRY;
  const t = transport as Transport;
  const data = new Uint8Array(ENTRY).fill(7);
  acked = 0;
  dropped = 0;
  let index = 0;
  const t0 = now();
  for (let sent = 0; sent < total; ) {
    while (index - acked >= WINDOW_ENTRIES) {
      await new Promise<void>((r) => {
        ackWake = r;
      });
    }
    const entries = [];
    for (let i = 0; i < PER_MSG && sent < total; i++, sent += ENTRY) entries.push(createEntry({ term: 1, index: ++index, data }));
    t.send([
      createMessage({
        type: MessageType.MsgApp,
        from: me,
        to: other,
        term: 1,
        logTerm: 1,
        index: index - entries.length,
        commit: index,
        entries,
      }),
    ]);
  }
  return { t0, dropped };
}

async function snapshot(size: number, index: number): Promise<Record<string, unknown>> {
  async function* body(): AsyncGenerator<Uint8Array> {
    const chunk = new Uint8Array(256 * 1024).fill(3);
    for (let at = 0; at < size; at += chunk.length) yield chunk;
  }
  const msg = createMessage({
    type: MessageType.MsgSnap,
    from: me,
    to: other,
    term: 1,
    snapshot: createSnapshot({ metadata: { index, term: 1 } }),
  });
  setPhase('during');
  const t0 = performance.now();
  const status = await (transport as Transport).sendSnapshot(msg, body(), size);
  const ms = performance.now() - t0;
  setPhase('none');
  return { status, ms };
}

function eldStats(xs: number[]): Record<string, number> {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(s.length * p))] ?? Number.NaN;
  return { p50: q(0.5), p99: q(0.99), max: s[s.length - 1] ?? Number.NaN };
}

let cpuMark = process.cpuUsage();

async function handle(c: Cmd): Promise<Record<string, unknown> | undefined> {
  switch (c.cmd) {
    case 'raw':
      return raw(c.round as number, c.total as number);
    case 'raw-join':
      await rawJoin();
      return {};
    case 'raw-close':
      await rawClose();
      return {};
    case 'up':
      await up();
      return {};
    case 'down':
      await down();
      return {};
    case 'expect':
      expectTotal = c.total as number;
      got = 0;
      t1 = 0;
      return {};
    case 'received':
      await until(() => t1 > 0 || dropped > 0, 'entries received', 120_000);
      return { t1 };
    case 'flood':
      return flood(c.total as number);
    case 'hb-start': {
      rtts.idle = [];
      rtts.during = [];
      eld.idle = [];
      eld.during = [];
      hbTimer = setInterval(() => {
        seq++;
        hbSent.set(seq, { at: performance.now(), phase });
        transport?.send([createMessage({ type: MessageType.MsgHeartbeat, from: me, to: other, term: 1, commit: seq })]);
      }, c.periodMs as number);
      return {};
    }
    case 'phase':
      setPhase(c.phase as Phase);
      return {};
    case 'snapshot':
      return snapshot(c.size as number, c.index as number);
    case 'hb-stop': {
      if (hbTimer !== undefined) clearInterval(hbTimer);
      hbTimer = undefined;
      await sleep(300); // the last answers come in
      if (HBT) writeFileSync(`${HBT}-${me}.json`, JSON.stringify({ origin: performance.timeOrigin, ...tr }));
      setPhase('none');
      // A heartbeat never answered counts as infinitely late.
      for (const s of hbSent.values()) if (s.phase !== 'none') rtts[s.phase].push(Number.POSITIVE_INFINITY);
      hbSent.clear();
      return { idle: rtts.idle, during: rtts.during, eldIdle: eldStats(eld.idle), eldDuring: eldStats(eld.during) };
    }
    case 'cpu-mark':
      cpuMark = process.cpuUsage();
      return {};
    case 'cpu': {
      const u = process.cpuUsage(cpuMark);
      return { cpuMs: (u.user + u.system) / 1000 };
    }
    case 'exit':
      process.exit(0);
  }
  throw new Error(`unknown command ${c.cmd}`);
}

process.on('message', (c: Cmd) => {
  handle(c).then(
    (body) => reply(c.id, body ?? {}),
    (err: unknown) => reply(c.id, { error: err instanceof Error ? (err.stack ?? err.message) : String(err) }),
  );
});
process.on('disconnect', () => process.exit(0));
reply(0, { ready: true });
