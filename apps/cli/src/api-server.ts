import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ErrorCode, formatId, type Id, parseId, RaftwireError, type Transport } from '@raftwire/core';
import { encodeKvCommand, type RaftNode } from '@raftwire/raft';
import type { CliLogger } from './log.js';
import type { MetricsEndpoint } from './metrics.js';

/**
 * The client API of one member: JSON over HTTP.
 *
 * - `PUT /v1/kv/:key` — the body is the value (UTF-8 text, ≤ 1 MiB); answers
 *   `{key, index?}` once the write is committed and applied here. On a
 *   follower, raft forwards the proposal to the leader.
 * - `GET /v1/kv/:key` — linearizable (ReadIndex): `{key, value}`, 404 if absent.
 * - `DELETE /v1/kv/:key` — deletes; `{key, existed}`.
 * - `GET /v1/status` — `{id, leader, term, commit, applied, peers:[{id, url, active, since}]}`.
 * - `POST /v1/members` with `{id, peerUrl}` — adds a voting member; `DELETE /v1/members/:id` removes one.
 * - `GET /metrics` — Prometheus text exposition (`etcd_network_*`, `etcd_server_*`, process metrics).
 *
 * Errors: `{error, code}` with 400 (bad input), 404 (unknown key or route),
 * 405, 413, 409 (membership conflict), 503 (no leader / stopped / timed out).
 */
export interface ApiServerOptions {
  node: RaftNode;
  transport: Transport;
  host: string;
  port: number;
  logger: CliLogger;
  /** Served at `GET /metrics` when given. */
  metrics?: MetricsEndpoint;
  /** How long a write or read may wait (ms). Default 10 000. */
  requestTimeoutMs?: number;
}

export interface ApiServer {
  readonly url: string;
  close(): Promise<void>;
}

const MAX_VALUE_BYTES = 1 << 20;

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

function send(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function readBody(req: http.IncomingMessage, max: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    n += c.length;
    if (n > max) throw new HttpError(413, 'ERR_TOO_LARGE', `body larger than ${max} bytes`);
    chunks.push(c);
  }
  return Buffer.concat(chunks);
}

function keyOf(raw: string): string {
  let key: string;
  try {
    key = decodeURIComponent(raw);
  } catch {
    throw new HttpError(400, 'ERR_INVALID_KEY', 'key is not valid percent-encoding');
  }
  if (key.length === 0) throw new HttpError(400, 'ERR_INVALID_KEY', 'key must not be empty');
  return key;
}

function memberId(text: unknown): Id {
  if (typeof text !== 'string') throw new HttpError(400, 'ERR_INVALID_ID', 'id must be a hex string');
  let id: Id;
  try {
    id = parseId(text);
  } catch {
    throw new HttpError(400, 'ERR_INVALID_ID', `invalid member ID ${JSON.stringify(text.slice(0, 40))}: want lowercase hex`);
  }
  if (id === 0n) throw new HttpError(400, 'ERR_INVALID_ID', 'member ID must not be 0');
  return id;
}

function toHttpError(err: unknown): HttpError {
  if (err instanceof HttpError) return err;
  if (err instanceof RaftwireError) {
    switch (err.code) {
      case ErrorCode.INVALID_ARGUMENT: {
        const conflict = /exists|was removed|not found/.test(err.message);
        return new HttpError(conflict ? 409 : 400, err.code, err.message);
      }
      case ErrorCode.CORRUPT: // a command the state machine cannot decode
      case ErrorCode.INVALID_ID:
      case ErrorCode.INVALID_URL:
        return new HttpError(400, err.code, err.message);
      case ErrorCode.ABORTED:
        return new HttpError(503, 'ERR_TIMEOUT', 'timed out waiting for the cluster (no leader or no quorum?)');
      case ErrorCode.STOPPED:
        return new HttpError(503, err.code, 'member is stopping');
      case ErrorCode.NOT_STARTED:
        return new HttpError(503, err.code, 'member is starting');
      default:
        return new HttpError(503, err.code, err.message);
    }
  }
  return new HttpError(500, 'ERR_INTERNAL', 'internal error');
}

/** Starts the client API server and resolves once it listens. */
export async function startApiServer(o: ApiServerOptions): Promise<ApiServer> {
  const { node, transport, logger } = o;
  const timeout = o.requestTimeoutMs ?? 10_000;
  const utf8 = new TextDecoder();

  const route = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://x');
    const path = url.pathname;
    const method = req.method ?? 'GET';
    const signal = AbortSignal.timeout(timeout);
    if (path.startsWith('/v1/kv/')) {
      const key = keyOf(path.slice('/v1/kv/'.length));
      if (method === 'PUT') {
        const value = await readBody(req, MAX_VALUE_BYTES);
        await node.propose(encodeKvCommand({ op: 'put', key, value: new Uint8Array(value) }), { signal });
        send(res, 200, { key });
        return;
      }
      if (method === 'GET') {
        const v = await node.read(key, { signal });
        if (v === undefined) throw new HttpError(404, 'ERR_KEY_NOT_FOUND', `key ${JSON.stringify(key)} not found`);
        send(res, 200, { key, value: utf8.decode(v) });
        return;
      }
      if (method === 'DELETE') {
        const r = await node.propose(encodeKvCommand({ op: 'delete', key }), { signal });
        send(res, 200, { key, existed: r.prev !== null });
        return;
      }
      throw new HttpError(405, 'ERR_METHOD', `${method} not allowed on ${path}`);
    }
    if (path === '/metrics' && o.metrics !== undefined) {
      if (method !== 'GET') throw new HttpError(405, 'ERR_METHOD', `${method} not allowed on ${path}`);
      const text = await o.metrics.render();
      res.writeHead(200, { 'content-type': o.metrics.contentType, 'content-length': Buffer.byteLength(text) });
      res.end(text);
      return;
    }
    if (path === '/v1/status') {
      if (method !== 'GET') throw new HttpError(405, 'ERR_METHOD', `${method} not allowed on ${path}`);
      const st = node.status();
      send(res, 200, {
        id: formatId(st.id),
        leader: formatId(st.leader),
        term: st.term,
        commit: st.commit,
        applied: st.applied,
        state: st.raftState,
        peers: st.members
          .filter((m) => m.id !== st.id)
          .map((m) => {
            const since = transport.activeSince(m.id);
            return { id: formatId(m.id), url: m.url, active: since !== 0, since: since === 0 ? null : new Date(since).toISOString() };
          }),
      });
      return;
    }
    if (path === '/v1/members') {
      if (method !== 'POST') throw new HttpError(405, 'ERR_METHOD', `${method} not allowed on ${path}`);
      const raw = await readBody(req, 64 * 1024);
      let body: unknown;
      try {
        body = JSON.parse(raw.toString('utf8'));
      } catch {
        throw new HttpError(400, 'ERR_INVALID_JSON', 'body must be JSON: {"id": "<hex>", "peerUrl": "http://host:port"}');
      }
      if (body === null || typeof body !== 'object') throw new HttpError(400, 'ERR_INVALID_JSON', 'body must be a JSON object');
      const b = body as { id?: unknown; peerUrl?: unknown };
      const id = memberId(b.id);
      if (typeof b.peerUrl !== 'string') throw new HttpError(400, 'ERR_INVALID_URL', 'peerUrl must be a string');
      let pu: URL;
      try {
        pu = new URL(b.peerUrl);
      } catch {
        throw new HttpError(400, 'ERR_INVALID_URL', `peerUrl ${JSON.stringify(b.peerUrl.slice(0, 100))} is not a URL`);
      }
      if (pu.protocol !== 'http:' && pu.protocol !== 'https:') throw new HttpError(400, 'ERR_INVALID_URL', 'peerUrl must be http(s)');
      const members = await node.addMember(id, `${pu.protocol}//${pu.host}`, { signal });
      logger.info({ member: formatId(id), 'peer-url': pu.host }, 'added member');
      send(res, 201, { members: members.map((m) => ({ id: formatId(m.id), peerUrl: m.url })) });
      return;
    }
    if (path.startsWith('/v1/members/')) {
      if (method !== 'DELETE') throw new HttpError(405, 'ERR_METHOD', `${method} not allowed on ${path}`);
      const id = memberId(path.slice('/v1/members/'.length));
      const members = await node.removeMember(id, { signal });
      logger.info({ member: formatId(id) }, 'removed member');
      send(res, 200, { members: members.map((m) => ({ id: formatId(m.id), peerUrl: m.url })) });
      return;
    }
    throw new HttpError(404, 'ERR_NOT_FOUND', `no route ${method} ${path}`);
  };

  const server = http.createServer((req, res) => {
    route(req, res).catch((err: unknown) => {
      const e = toHttpError(err);
      if (e.status >= 500) logger.warn({ err, path: req.url, status: e.status }, 'client request failed');
      else logger.debug({ path: req.url, status: e.status, code: e.code }, 'client request rejected');
      if (res.headersSent) {
        res.destroy();
        return;
      }
      send(res, e.status, { error: e.message, code: e.code });
      if (e.status === 413) req.destroy();
    });
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return {
    url: `http://${host}:${addr.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
