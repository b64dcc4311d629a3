import {
  type Id,
  type LinkRequest,
  type ProtocolHandler,
  Transport,
  type TransportOptions,
  formatId,
  MIN_CLUSTER_VERSION,
  SERVER_VERSION,
} from '@raftwire/core';
import { MemoryLogger, MemoryMetrics, MemoryNetwork, RecordingRaft, TrackingClock } from '@raftwire/core/testing';

export const CLUSTER = 0x1000n;

export interface Member {
  id: Id;
  url: string;
  transport: Transport;
  raft: RecordingRaft;
  logger: MemoryLogger;
  metrics: MemoryMetrics;
  clock: TrackingClock;
  /** Requests the member's server saw (method, path). */
  seen: { method: string; path: string }[];
  unserve(): void;
}

export interface Cluster {
  net: MemoryNetwork;
  members: Member[];
  m(i: number): Member;
  stop(): Promise<void>;
}

export function urlOf(i: number): string {
  return `memory://n${i}`;
}

/** n members on one MemoryNetwork, each with its own logger/metrics/tracking clock; peers added when `connect`. */
export function makeCluster(
  n: number,
  opts: {
    connect?: boolean;
    seed?: number;
    per?: (i: number) => Partial<TransportOptions>;
    common?: Partial<TransportOptions>;
    net?: MemoryNetwork;
  } = {},
): Cluster {
  const net = opts.net ?? new MemoryNetwork({ seed: opts.seed ?? 1 });
  const members: Member[] = [];
  for (let i = 0; i < n; i++) {
    const url = urlOf(i);
    const raft = new RecordingRaft();
    const logger = new MemoryLogger();
    const metrics = new MemoryMetrics();
    const clock = new TrackingClock();
    const transport = new Transport({
      id: BigInt(i + 1),
      clusterId: CLUSTER,
      urls: [url],
      link: net.link(url),
      raft,
      logger,
      metrics,
      clock,
      ...opts.common,
      ...opts.per?.(i),
      timeouts: { probe: 60_000, ...opts.common?.timeouts, ...opts.per?.(i).timeouts },
    });
    const seen: { method: string; path: string }[] = [];
    const handler: ProtocolHandler = (req) => {
      seen.push({ method: req.method, path: req.path });
      return transport.handler(req);
    };
    const unserve = net.serve(url, handler);
    transport.start();
    members.push({ id: BigInt(i + 1), url, transport, raft, logger, metrics, clock, seen, unserve });
  }
  if (opts.connect !== false) {
    for (const a of members) for (const b of members) if (a !== b) a.transport.addPeer(b.id, [b.url]);
  }
  return {
    net,
    members,
    m: (i) => members[i] as Member,
    stop: async () => {
      await Promise.all(members.map((x) => x.transport.stop()));
      net.close();
    },
  };
}

export function streamsUp(a: Member, b: Member): boolean {
  const pa = a.transport.get(b.id);
  const pb = b.transport.get(a.id);
  return Boolean(pa?.msgAppWriter.working && pa.messageWriter.working && pb?.msgAppWriter.working && pb.messageWriter.working);
}

/** Request headers a well-behaved member `from` sends. */
export function headersFrom(from: Id, extra: Record<string, string> = {}): Record<string, string> {
  return {
    'x-server-from': formatId(from),
    'x-server-version': SERVER_VERSION,
    'x-min-cluster-version': MIN_CLUSTER_VERSION,
    'x-etcd-cluster-id': formatId(CLUSTER),
    ...extra,
  };
}

/** A handler request with a controllable signal. */
export function handlerRequest(
  method: string,
  path: string,
  headers: Record<string, string>,
  body: Uint8Array | AsyncIterable<Uint8Array> = new Uint8Array(0),
  signal: AbortSignal = new AbortController().signal,
) {
  const chunks: AsyncIterable<Uint8Array> =
    body instanceof Uint8Array
      ? (async function* () {
          if (body.length) yield body;
        })()
      : body;
  return { method, path, headers, body: chunks, signal };
}

export async function text(body: AsyncIterable<Uint8Array> | Uint8Array | undefined): Promise<string> {
  if (body === undefined) return '';
  if (body instanceof Uint8Array) return new TextDecoder().decode(body);
  let s = '';
  const d = new TextDecoder();
  for await (const c of body) s += d.decode(c, { stream: true });
  return s;
}

export type { LinkRequest };
