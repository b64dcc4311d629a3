import { networkInterfaces } from 'node:os';
import { ErrorCode, RaftwireError, concatBytes } from '@raftwire/core';
import type { HandlerRequest, HandlerResponse, Id, LinkResponse, ProtocolHandler } from '@raftwire/core';
import {
  InPageSignalingHub,
  type PeerConnectionFactory,
  type Signaling,
  WebRtcLink,
  type WebRtcLinkOptions,
} from '../../src/webrtc/index.js';
import { type NodeWebRtcStack, nodePeerConnectionFactory } from '../../src/webrtc/node/index.js';

/**
 * WebRTC gathers candidates on every interface: tests that open peer
 * connections must run inside `tools/loopback-only` and fail at once elsewhere.
 */
export function assertLoopbackOnly(): void {
  const others = Object.keys(networkInterfaces()).filter((name) => name !== 'lo');
  if (others.length > 0) {
    throw new Error(`WebRTC tests must run inside tools/loopback-only; this namespace also has ${others.join(', ')}`);
  }
}

export const STACKS: NodeWebRtcStack[] = ['roam', 'node-datachannel'];
export const CLUSTER = 0xc1n;

/** Polls `cond` until true; fails with `what` after `timeoutMs`. */
export async function waitFor(cond: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export async function readAll(body: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const c of body) parts.push(c);
  return concatBytes(parts);
}

export const text = (s: string): Uint8Array => new TextEncoder().encode(s);
export const untext = (b: Uint8Array): string => new TextDecoder().decode(b);

/** Deterministic bytes: byte i of a body is (i * 31 + seed) & 0xff. */
export function pattern(length: number, seed = 7, offset = 0): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = ((offset + i) * 31 + seed) & 0xff;
  return out;
}

export interface Pair {
  a: WebRtcLink;
  b: WebRtcLink;
  hub: InPageSignalingHub;
  factories: { a: CountingFactory; b: CountingFactory };
  close(): Promise<void>;
}

export interface CountingFactory extends PeerConnectionFactory {
  created: number;
}

export function countingFactory(inner: PeerConnectionFactory): CountingFactory {
  const f: CountingFactory = {
    created: 0,
    create: (init) => {
      f.created++;
      return inner.create(init);
    },
  };
  return f;
}

/** Two members (ids 1 and 2) on one in-page hub, over `stack`, each serving `handler`. */
export async function makePair(
  stack: NodeWebRtcStack,
  handler: ProtocolHandler,
  extra: Partial<WebRtcLinkOptions> = {},
  signaling?: { a: Signaling; b: Signaling },
): Promise<Pair> {
  const hub = new InPageSignalingHub(CLUSTER);
  const fa = countingFactory(nodePeerConnectionFactory({ stack }));
  const fb = countingFactory(nodePeerConnectionFactory({ stack }));
  const common = { clusterId: CLUSTER, handler, connectTimeoutMs: 15_000, ...extra };
  const a = await WebRtcLink.create({ ...common, localId: 1n, signaling: signaling?.a ?? hub, peerConnectionFactory: fa });
  const b = await WebRtcLink.create({ ...common, localId: 2n, signaling: signaling?.b ?? hub, peerConnectionFactory: fb });
  return {
    a,
    b,
    hub,
    factories: { a: fa, b: fb },
    close: async () => {
      await Promise.all([a.close(), b.close()]);
    },
  };
}

/**
 * A small hand-written protocol handler in the shape of the core's:
 * - `POST /raft`: reads the body, answers 204 with `x-body-bytes` and `x-body-sum` headers;
 * - `GET /raft/stream/message/{from}`: 200 and an endless stream of numbered 100-byte frames every `tickMs`;
 * - `POST /raft/snapshot`: reads the body, checks it against `pattern`, answers 204 with the byte count
 *   (`snapshotBytes` tells how far the current one got);
 * - `GET /raft/probing`: 200 `{"ok":true}`;
 * - anything else: 404.
 */
export function testHandler(options: { tickMs?: number; onRequest?: (req: HandlerRequest) => void } = {}): ProtocolHandler & {
  streamsClosed: number;
  snapshotBytes: number;
} {
  const state = { streamsClosed: 0, snapshotBytes: 0 };
  const h = async (req: HandlerRequest): Promise<HandlerResponse> => {
    options.onRequest?.(req);
    if (req.method === 'POST' && req.path === '/raft') {
      let n = 0;
      let sum = 0;
      for await (const c of req.body) {
        n += c.length;
        for (const b of c) sum = (sum + b) % 1_000_000_007;
      }
      return { status: 204, headers: { 'x-body-bytes': String(n), 'x-body-sum': String(sum), 'x-server-from': 'test' } };
    }
    if (req.method === 'GET' && req.path.startsWith('/raft/stream/message/')) {
      const tick = options.tickMs ?? 5;
      async function* frames(): AsyncGenerator<Uint8Array> {
        try {
          for (let i = 0; ; i++) {
            const f = pattern(100, i & 0xff);
            new DataView(f.buffer).setUint32(0, i);
            yield f;
            await new Promise((r) => setTimeout(r, tick));
          }
        } finally {
          state.streamsClosed++;
        }
      }
      return { status: 200, headers: { 'content-type': 'application/octet-stream' }, body: frames() };
    }
    if (req.method === 'POST' && req.path === '/raft/snapshot') {
      let n = 0;
      for await (const c of req.body) {
        const want = pattern(c.length, 7, n);
        for (let i = 0; i < c.length; i++) {
          if (c[i] !== want[i]) throw new RaftwireError(ErrorCode.DECODE, `snapshot byte ${n + i} corrupted`);
        }
        n += c.length;
        state.snapshotBytes = n;
      }
      return { status: 204, headers: { 'x-body-bytes': String(n) } };
    }
    if (req.method === 'GET' && req.path === '/raft/probing') return { status: 200, headers: {}, body: text('{"ok":true}') };
    return { status: 404, headers: {}, body: text('invalid path') };
  };
  return Object.defineProperties(h, {
    streamsClosed: { get: () => state.streamsClosed },
    snapshotBytes: { get: () => state.snapshotBytes },
  }) as ProtocolHandler & { streamsClosed: number; snapshotBytes: number };
}

export type { Id, LinkResponse };
