/**
 * A raftwire member in Cloudflare's workerd: a Worker whose every request goes
 * to one Durable Object, `RaftMember`, that holds the member.
 *
 * - Raft protocol: `/raft*` is served by `createFetchHandler(transport.handler)`
 *   (response streams for the peers' stream readers); peers are dialled with
 *   `FetchLink` (outbound `fetch`, streaming response bodies). Where the platform
 *   ends a long-lived stream, the transport falls back to the pipeline (POST
 *   `/raft`) until the stream is dialled again, as it does on any runtime.
 * - Ticks: the object's alarm ({@link AlarmClock}) drives Raft's ticks, so the
 *   member ticks with no request in flight and boots again from storage after
 *   an eviction or restart.
 * - Storage: the object's transactional storage (`DurableObjectRaftStorage`).
 * - Client API (JSON): `PUT /v1/kv/:key` (body: the value), `GET /v1/kv/:key`
 *   (linearizable), `GET /v1/status`.
 *
 * Configuration: the text binding `RAFTWIRE_MEMBER`, JSON
 * `{"id": "3", "peerUrl": "http://127.0.0.1:8787", "peers": [{"id": "1", "url": "http://127.0.0.1:2380"}],
 *   "clusterId"?: hex, "tickMs"?: 100, "electionTicks"?: 10, "logLevel"?: "info"}`.
 */
import { createFetchHandler, FetchLink, type RaftFetchHandler } from '@raftwire/adapters/http';
import { ErrorCode, formatId, type Id, type LogFields, type Logger, parseId, RaftwireError, Transport } from '@raftwire/core';
import { encodeKvCommand, RaftNode } from '@raftwire/raft';
import { DurableObjectRaftStorage, type DurableObjectStorageLike } from '@raftwire/raft/durable-object';
import { AlarmClock, type AlarmStorage } from './alarm-clock.js';

/** The parts of workerd's `DurableObjectState` the member uses. */
export interface MemberObjectState {
  storage: DurableObjectStorageLike & AlarmStorage;
  blockConcurrencyWhile<T>(fn: () => Promise<T>): Promise<T>;
}

export interface MemberEnv {
  RAFTWIRE_MEMBER: string;
  MEMBER: {
    idFromName(name: string): unknown;
    get(id: unknown): { fetch(request: Request): Promise<Response> };
  };
}

interface MemberConfig {
  id: Id;
  peerUrl: string;
  peers: { id: Id; url: string }[];
  clusterId: Id;
  tickMs: number;
  electionTicks: number;
  logLevel: string;
}

/** The CLI's default cluster ID (the ASCII bytes of "raftwire"). */
const DEFAULT_CLUSTER_ID = 0x7261667477697265n;
const LEVELS = ['trace', 'debug', 'info', 'warn', 'error'] as const;

function parseConfig(text: string | undefined): MemberConfig {
  if (!text) throw new RaftwireError(ErrorCode.INVALID_ARGUMENT, 'the RAFTWIRE_MEMBER binding (JSON member configuration) is missing');
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new RaftwireError(ErrorCode.INVALID_ARGUMENT, 'RAFTWIRE_MEMBER is not JSON');
  }
  const str = (v: unknown, what: string): string => {
    if (typeof v !== 'string' || v === '') throw new RaftwireError(ErrorCode.INVALID_ARGUMENT, `RAFTWIRE_MEMBER: ${what} must be a string`);
    return v;
  };
  const num = (v: unknown, def: number, what: string): number => {
    if (v === undefined) return def;
    if (!Number.isSafeInteger(v) || (v as number) < 1)
      throw new RaftwireError(ErrorCode.INVALID_ARGUMENT, `RAFTWIRE_MEMBER: ${what} must be a positive integer`);
    return v as number;
  };
  if (!Array.isArray(raw.peers)) throw new RaftwireError(ErrorCode.INVALID_ARGUMENT, 'RAFTWIRE_MEMBER: peers must be a list of {id, url}');
  return {
    id: parseId(str(raw.id, 'id')),
    peerUrl: str(raw.peerUrl, 'peerUrl'),
    peers: (raw.peers as { id?: unknown; url?: unknown }[]).map((p) => ({
      id: parseId(str(p.id, 'peers[].id')),
      url: str(p.url, 'peers[].url'),
    })),
    clusterId: raw.clusterId === undefined ? DEFAULT_CLUSTER_ID : parseId(str(raw.clusterId, 'clusterId')),
    tickMs: num(raw.tickMs, 100, 'tickMs'),
    electionTicks: num(raw.electionTicks, 10, 'electionTicks'),
    logLevel: typeof raw.logLevel === 'string' ? raw.logLevel : 'info',
  };
}

function plain(v: unknown): unknown {
  if (typeof v === 'bigint') return v.toString(16);
  if (v instanceof Error) return { type: v.name, message: v.message, ...('code' in v ? { code: (v as { code: unknown }).code } : {}) };
  return v;
}

/** A pino-shaped logger writing one JSON line per event to the console (workerd prints it on stderr with --verbose). */
function consoleLogger(level: string, bindings: LogFields = {}): Logger {
  const min = Math.max(0, LEVELS.indexOf(level as (typeof LEVELS)[number]));
  const fn =
    (l: (typeof LEVELS)[number]) =>
    (fields: LogFields, msg?: string): void => {
      if (LEVELS.indexOf(l) < min) return;
      console.log(JSON.stringify({ level: l, time: Date.now(), msg: msg ?? '', ...bindings, ...fields }, (_k, v: unknown) => plain(v)));
    };
  return {
    trace: fn('trace'),
    debug: fn('debug'),
    info: fn('info'),
    warn: fn('warn'),
    error: fn('error'),
    child: (b) => consoleLogger(level, { ...bindings, ...b }),
  };
}

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
}

function apiError(err: unknown): Response {
  if (err instanceof RaftwireError) {
    if (err.code === ErrorCode.ABORTED)
      return json(503, { error: 'timed out waiting for the cluster (no leader or no quorum?)', code: 'ERR_TIMEOUT' });
    if (err.code === ErrorCode.INVALID_ARGUMENT) return json(400, { error: err.message, code: err.code });
    return json(503, { error: err.message, code: err.code });
  }
  return json(500, { error: 'internal error', code: 'ERR_INTERNAL' });
}

const MAX_VALUE_BYTES = 1 << 20;

/** The Durable Object holding one member. */
export class RaftMember {
  private readonly booted: Promise<void>;
  private node: RaftNode | undefined;
  private transport: Transport | undefined;
  private raftFetch: RaftFetchHandler | undefined;
  private clock: AlarmClock | undefined;
  private log: Logger = consoleLogger('info');

  constructor(
    private readonly state: MemberObjectState,
    env: MemberEnv,
  ) {
    // Requests wait until the member has loaded its storage and started.
    this.booted = state.blockConcurrencyWhile(() => this.boot(env));
  }

  private async boot(env: MemberEnv): Promise<void> {
    const cfg = parseConfig(env.RAFTWIRE_MEMBER);
    const logger = consoleLogger(cfg.logLevel, { 'local-member-id': formatId(cfg.id) });
    this.log = logger;
    const storage = await DurableObjectRaftStorage.open(this.state.storage);
    const clock = new AlarmClock(this.state.storage, (err) => logger.error({ err }, 'cannot set the alarm'));
    this.clock = clock;
    const node = new RaftNode({
      id: cfg.id,
      peers: [{ id: cfg.id, url: cfg.peerUrl }, ...cfg.peers],
      storage,
      logger,
      clock,
      tickMs: cfg.tickMs,
      electionTicks: cfg.electionTicks,
    });
    const link = new FetchLink({ logger });
    const transport = new Transport({ id: cfg.id, clusterId: cfg.clusterId, urls: [cfg.peerUrl], link, raft: node, logger });
    this.raftFetch = createFetchHandler(transport.handler, { logger });
    transport.start();
    node.setTransport(transport);
    node.on('error', (err) => logger.error({ err }, 'raft node failed'));
    await node.start();
    this.node = node;
    this.transport = transport;
    logger.info(
      {
        runtime: 'workerd',
        'peer-url': cfg.peerUrl,
        peers: cfg.peers.map((p) => `${formatId(p.id)}=${p.url}`),
        'last-index': storage.lastIndex(),
      },
      'member ready',
    );
  }

  async alarm(): Promise<void> {
    await this.booted;
    this.clock?.fire();
  }

  async fetch(request: Request): Promise<Response> {
    try {
      await this.booted;
    } catch (err) {
      this.log.error({ err }, 'member failed to start');
      return json(503, { error: `member failed to start: ${err instanceof Error ? err.message : String(err)}`, code: 'ERR_NOT_STARTED' });
    }
    const url = new URL(request.url);
    if (url.pathname === '/raft' || url.pathname.startsWith('/raft/')) return (this.raftFetch as RaftFetchHandler)(request);
    try {
      return await this.api(request, url);
    } catch (err) {
      return apiError(err);
    }
  }

  private async api(request: Request, url: URL): Promise<Response> {
    const node = this.node as RaftNode;
    const signal = AbortSignal.timeout(10_000);
    if (url.pathname.startsWith('/v1/kv/')) {
      const key = decodeURIComponent(url.pathname.slice('/v1/kv/'.length));
      if (key === '') return json(400, { error: 'key must not be empty', code: 'ERR_INVALID_KEY' });
      if (request.method === 'PUT') {
        const value = new Uint8Array(await request.arrayBuffer());
        if (value.length > MAX_VALUE_BYTES) return json(413, { error: `body larger than ${MAX_VALUE_BYTES} bytes`, code: 'ERR_TOO_LARGE' });
        await node.propose(encodeKvCommand({ op: 'put', key, value }), { signal });
        return json(200, { key });
      }
      if (request.method === 'GET') {
        const v = await node.read(key, { signal });
        if (v === undefined) return json(404, { error: `key ${JSON.stringify(key)} not found`, code: 'ERR_KEY_NOT_FOUND' });
        return json(200, { key, value: new TextDecoder().decode(v) });
      }
      return json(405, { error: `${request.method} not allowed`, code: 'ERR_METHOD' });
    }
    if (url.pathname === '/v1/status') {
      const st = node.status();
      const transport = this.transport as Transport;
      return json(200, {
        id: formatId(st.id),
        leader: formatId(st.leader),
        term: st.term,
        commit: st.commit,
        applied: st.applied,
        state: st.raftState,
        runtime: 'workerd',
        peers: st.members
          .filter((m) => m.id !== st.id)
          .map((m) => ({ id: formatId(m.id), url: m.url, active: transport.activeSince(m.id) !== 0 })),
      });
    }
    return json(404, { error: `no route ${request.method} ${url.pathname}`, code: 'ERR_NOT_FOUND' });
  }
}

/** The Worker: every request goes to the one member object. */
export default {
  fetch(request: Request, env: MemberEnv): Promise<Response> {
    return env.MEMBER.get(env.MEMBER.idFromName('member')).fetch(request);
  },
};
