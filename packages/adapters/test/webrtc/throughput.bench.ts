/**
 * Quick throughput/latency comparison: a raw data channel of each Node stack
 * vs the same stack through the WebRTC link adapter. Not a test.
 *   tools/loopback-only npx tsx packages/adapters/test/webrtc/throughput.bench.ts [roam|node-datachannel]
 */
import type { HandlerRequest } from '@raftwire/core';
import { CHANNELS, type DataChannelPort, InPageSignalingHub, WebRtcLink } from '../../src/webrtc/index.js';
import { type NodeWebRtcStack, nodePeerConnectionFactory } from '../../src/webrtc/node/index.js';
import { assertLoopbackOnly } from './helpers.js';

assertLoopbackOnly();

const TOTAL = 64 * 1024 * 1024;
const FRAME = 16 * 1024;
const PINGS = 1000;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}
function p99(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length * 0.99)] as number;
}

async function raw(stack: NodeWebRtcStack): Promise<{ mbps: number; rtt: number[] }> {
  const f = nodePeerConnectionFactory({ stack });
  const a = f.create({ initiator: true, channels: CHANNELS });
  const b = f.create({ initiator: false, channels: CHANNELS });
  a.onSignal = (d) => b.signal(d);
  b.onSignal = (d) => a.signal(d);
  const open = (ch: DataChannelPort) => new Promise<void>((r) => (ch.readyState === 'open' ? r() : (ch.onOpen = () => r())));
  const sa = a.channels.get('snapshot') as DataChannelPort;
  const sb = b.channels.get('snapshot') as DataChannelPort;
  const ma = a.channels.get('message') as DataChannelPort;
  const mb = b.channels.get('message') as DataChannelPort;
  await Promise.all([open(sa), open(sb), open(ma), open(mb)]);
  let got = 0;
  const done = new Promise<void>((r) => {
    sb.onMessage = (d) => {
      got += d.length;
      if (got >= TOTAL) r();
    };
  });
  sa.bufferedAmountLowThreshold = 256 * 1024;
  let wake: (() => void) | undefined;
  sa.onBufferedAmountLow = () => wake?.();
  const frame = new Uint8Array(FRAME);
  const t0 = performance.now();
  for (let sent = 0; sent < TOTAL; sent += FRAME) {
    while (sa.bufferedAmount > 1024 * 1024) {
      await new Promise<void>((r) => {
        wake = r;
        setTimeout(r, 2);
      });
    }
    sa.send(frame);
  }
  await done;
  const mbps = TOTAL / 1e6 / ((performance.now() - t0) / 1000);
  mb.onMessage = (d) => mb.send(d);
  const rtt: number[] = [];
  const ping = new Uint8Array(100);
  for (let i = 0; i < PINGS + 100; i++) {
    const t = performance.now();
    await new Promise<void>((r) => {
      ma.onMessage = () => r();
      ma.send(ping);
    });
    if (i >= 100) rtt.push(performance.now() - t);
  }
  a.close();
  b.close();
  return { mbps, rtt };
}

async function adapter(stack: NodeWebRtcStack): Promise<{ mbps: number; rtt: number[] }> {
  const hub = new InPageSignalingHub(1n);
  const handler = async (req: HandlerRequest) => {
    let n = 0;
    for await (const c of req.body) n += c.length;
    return { status: 204, headers: { 'x-n': String(n) } };
  };
  const a = await WebRtcLink.create({
    localId: 1n,
    clusterId: 1n,
    signaling: hub,
    peerConnectionFactory: nodePeerConnectionFactory({ stack }),
    handler,
  });
  const b = await WebRtcLink.create({
    localId: 2n,
    clusterId: 1n,
    signaling: hub,
    peerConnectionFactory: nodePeerConnectionFactory({ stack }),
    handler,
  });
  await a.connect(2n);
  const chunk = new Uint8Array(1024 * 1024);
  async function* body() {
    for (let at = 0; at < TOTAL; at += chunk.length) yield chunk;
  }
  const t0 = performance.now();
  const res = await a.request('webrtc://2', { method: 'POST', path: '/raft/snapshot', headers: {}, body: body() });
  if (res.headers['x-n'] !== String(TOTAL)) throw new Error('short body');
  const mbps = TOTAL / 1e6 / ((performance.now() - t0) / 1000);
  const rtt: number[] = [];
  const ping = new Uint8Array(100);
  for (let i = 0; i < PINGS + 100; i++) {
    const t = performance.now();
    const r = await a.request('webrtc://2', { method: 'POST', path: '/raft', headers: {}, body: ping });
    for await (const _ of r.body) {
      // drain
    }
    if (i >= 100) rtt.push(performance.now() - t);
  }
  a.close();
  b.close();
  return { mbps, rtt };
}

const stacks: NodeWebRtcStack[] = process.argv[2] ? [process.argv[2] as NodeWebRtcStack] : ['roam', 'node-datachannel'];
for (const stack of stacks) {
  const r = await raw(stack);
  const d = await adapter(stack);
  console.log(
    `${stack}: raw channel ${r.mbps.toFixed(1)} MB/s, ping-pong 100 B median ${median(r.rtt).toFixed(2)} ms p99 ${p99(r.rtt).toFixed(2)} | ` +
      `adapter snapshot ${d.mbps.toFixed(1)} MB/s, POST /raft 100 B median ${median(d.rtt).toFixed(2)} ms p99 ${p99(d.rtt).toFixed(2)}`,
  );
}
await new Promise((r) => setTimeout(r, 200));
