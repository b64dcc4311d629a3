// Browser entry for the Chromium smoke: the isomorphic build with the page's own WebRTC globals.
import { concatBytes } from '@raftwire/core';
import type { HandlerRequest } from '@raftwire/core';
import { HttpRelaySignaling, InPageSignalingHub, WebRtcLink, loadSimplePeer, simplePeerFactory } from '../../../src/webrtc/index.js';

const handler = async (req: HandlerRequest) => {
  let n = 0;
  for await (const c of req.body) n += c.length;
  if (req.path.startsWith('/raft/stream/')) {
    async function* frames() {
      for (let i = 0; i < 100; i++) yield new Uint8Array([i]);
    }
    return { status: 200, headers: {}, body: frames() };
  }
  return { status: 204, headers: { 'x-n': String(n), 'x-where': 'browser' } };
};

async function snapshot(link: WebRtcLink, url: string, total: number): Promise<number> {
  async function* body() {
    for (let at = 0; at < total; at += 1 << 20) yield new Uint8Array(1 << 20);
  }
  const t0 = performance.now();
  const res = await link.request(url, { method: 'POST', path: '/raft/snapshot', headers: {}, body: body() });
  if (res.headers['x-n'] !== String(total)) throw new Error(`short snapshot: ${res.headers['x-n']}`);
  return total / 1e6 / ((performance.now() - t0) / 1000);
}

async function inPage(): Promise<string> {
  const SimplePeer = await loadSimplePeer();
  const factory = simplePeerFactory({ SimplePeer });
  const hub = new InPageSignalingHub(1n);
  const a = await WebRtcLink.create({ localId: 1n, clusterId: 1n, signaling: hub, peerConnectionFactory: factory, handler });
  const b = await WebRtcLink.create({ localId: 2n, clusterId: 1n, signaling: hub, peerConnectionFactory: factory, handler });
  const t0 = performance.now();
  const r = await b.request('webrtc://1', { method: 'POST', path: '/raft', headers: {}, body: new Uint8Array(1000) });
  const connectMs = performance.now() - t0;
  const s = await a.openStream('webrtc://2', { method: 'GET', path: '/raft/stream/message/1', headers: {} });
  const parts: Uint8Array[] = [];
  for await (const c of s.body) parts.push(c);
  const mbps = await snapshot(a, 'webrtc://2', 16 << 20);
  a.close();
  b.close();
  return `in-page: status ${r.status} x-n ${r.headers['x-n']}, connect+request ${connectMs.toFixed(0)} ms, stream ${concatBytes(parts).length} frames, 16 MiB snapshot ${mbps.toFixed(1)} MB/s`;
}

async function withNode(relayUrl: string): Promise<string> {
  const SimplePeer = await loadSimplePeer();
  const link = await WebRtcLink.create({
    localId: 2n,
    clusterId: 1n,
    signaling: new HttpRelaySignaling({ baseUrl: relayUrl }),
    peerConnectionFactory: simplePeerFactory({ SimplePeer }),
    handler,
  });
  const t0 = performance.now();
  const r = await link.request('webrtc://1', { method: 'POST', path: '/raft', headers: {}, body: new Uint8Array(1000) });
  const connectMs = performance.now() - t0;
  const mbps = await snapshot(link, 'webrtc://1', 16 << 20);
  // Let the Node member call us too (it is the offerer); wait for its report.
  const w = window as unknown as { __link: WebRtcLink };
  w.__link = link;
  return `browser→node: status ${r.status} x-where ${r.headers['x-where']}, connect+request ${connectMs.toFixed(0)} ms, 16 MiB snapshot ${mbps.toFixed(1)} MB/s`;
}

Object.assign(window, { inPage, withNode });
