import { timingSafeEqual } from 'node:crypto';
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import { ErrorCode, formatId, type Id, normalizePeerUrl, parseId, RaftwireError, type Transport } from '@raftwire/core';
import { encodeKvCommand, type Member, type RaftNode } from '@raftwire/raft';
import type { CliLogger } from './log.js';
import type { MetricsEndpoint } from './metrics.js';
import { SharedTimeouts } from './shared-timeout.js';

/**
 * The client API of one member: JSON over HTTP.
 *
 * - `PUT /v1/kv/:key` — the body is the value (any bytes, ≤ 1 MiB, stored as
 *   they are); answers `{key}` once the write is committed and applied here.
 *   On a follower, raft forwards the proposal to the leader.
 * - `GET /v1/kv/:key` — linearizable (ReadIndex): `{key, value}` when the value
 *   is UTF-8 text, `{key, valueBase64}` when it is not; with `Accept:
 *   application/octet-stream`, the value's bytes themselves. 404 if absent.
 * - `DELETE /v1/kv/:key` — deletes; `{key, existed}`.
 * - `GET /v1/status` — `{id, leader, term, commit, applied, state, voters, learners,
 *   peers:[{id, url, active, since}]}`.
 * - `GET /v1/members` — `{members:[{id, peerUrl, role, learner, self, reachable, since}]}`:
 *   every member, `role` `voter` or `learner`, and whether this member reaches it (a member
 *   added but never started stays `reachable: false`).
 * - `POST /v1/members` with `{id, peerUrl, learner?}` — adds a voter, or a
 *   learner with `learner: true`, and answers `{members, start}`: `start` is the
 *   `raftwire member --join ...` command that starts the new member (it must run
 *   before the cluster can count on it); `POST /v1/members/:id/promote` makes a
 *   learner a voter; `DELETE /v1/members/:id` removes a member. The peer URL
 *   is checked before anything is proposed (see {@link peerUrlOf}).
 * - `GET /metrics` — Prometheus text exposition (`etcd_network_*`, `etcd_server_*`, process metrics).
 *
 * Errors: `{error, code}` with 400 (bad input), 404 (unknown key, member or
 * route), 405, 413, 409 (membership conflict: an ID or URL in use, another
 * change in progress, a change strict reconfiguration refuses), 503 (no
 * leader / stopped / timed out).
 *
 * Idle connections are closed: one that sends no complete request head within
 * `headersTimeoutMs` (default 10 s), and a kept-alive one idle for
 * `keepAliveTimeoutMs` (default 30 s) between requests.
 */
export interface ApiServerOptions {
  node: RaftNode;
  transport: Transport;
  host: string;
  port: number;
  logger: CliLogger;
  /**
   * The command line that starts a member just added (`raftwire member --join ...`), given in
   * the answer to `POST /v1/members`. Default: {@link joinCommand} with plain defaults.
   */
  joinCommand?: (id: Id, peerUrl: string, members: readonly Member[]) => string;
  /** Served at `GET /metrics` when given. */
  metrics?: MetricsEndpoint;
  /**
   * How long a write or read may wait (ms). Default 10 000. Requests starting within the same
   * `min(100, requestTimeoutMs / 100)` ms share one timeout signal, so each waits at least this
   * long and at most 1 % (≤ 100 ms) longer.
   */
  requestTimeoutMs?: number;
  /** How long a connection has to send a complete request head (ms); then it is closed. Default 10 000. */
  headersTimeoutMs?: number;
  /**
   * How long a kept-alive connection may sit idle between requests (ms). Default 30 000. It is
   * sent as the Keep-Alive hint; clients that read it stop reusing a connection a little before
   * (undici: 1 s), and a short value makes a client that stalls longer than that meet a closed one.
   */
  keepAliveTimeoutMs?: number;
  /** Serve https with this key and certificate chain (PEM). */
  tls?: { key: string | Buffer; cert: string | Buffer };
  /**
   * Every request must carry `Authorization: Bearer <token>`; others get 401. Compared in
   * constant time. Given together with `tls` (a token sent over plain http could be read).
   */
  token?: string;
}

export interface ApiServer {
  readonly url: string;
  close(): Promise<void>;
}

const MAX_VALUE_BYTES = 1 << 20;

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * `raftwire member --join ...` for a member just added: its peer URL, an API URL one port above
 * it (the convention of `raftwire cluster`), and every other member as a `--peer`.
 */
export function joinCommand(id: Id, peerUrl: string, members: readonly Member[], extra: readonly string[] = []): string {
  const u = new URL(peerUrl);
  const port = Number(u.port || (u.protocol === 'https:' ? 443 : 80));
  const api = `${u.protocol}//${u.host.replace(/:\d+$/, '')}:${port + 1}`;
  const peers = members.filter((m) => m.id !== id).map((m) => `--peer ${formatId(m.id)}=${m.url}`);
  return ['raftwire member --join', `--id ${formatId(id)}`, `--listen ${peerUrl}`, `--api ${api}`, ...peers, ...extra].join(' ');
}

const memberJson = (m: Member): { id: string; peerUrl: string; learner: boolean } => ({
  id: formatId(m.id),
  peerUrl: m.url,
  learner: m.learner === true,
});

function send(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/**
 * Collects a request body with plain data/end listeners: one callback per chunk, no async
 * iterator promise chain per request (it showed in the leader's profile under load).
 */
function readBody(req: http.IncomingMessage, max: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let n = 0;
    let done = false;
    const finish = (err: unknown, body?: Buffer): void => {
      if (done) return;
      done = true;
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
      if (err) reject(err);
      else resolve(body as Buffer);
    };
    const onData = (c: Buffer): void => {
      n += c.length;
      if (n > max) {
        finish(new HttpError(413, 'ERR_TOO_LARGE', `body larger than ${max} bytes`));
        req.destroy(); // as leaving a for-await over the request did
        return;
      }
      chunks.push(c);
    };
    const onEnd = (): void => finish(null, chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, n));
    const onError = (err: Error): void => finish(err);
    const onClose = (): void => finish(new RaftwireError(ErrorCode.ABORTED, 'request closed before its body ended'));
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
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

/** Peer URL schemes a member can be added with through this API (the CLI's transport is HTTP). */
const API_PEER_SCHEMES = ['http', 'https'] as const;

/**
 * The peer URL of a member to add, checked before it is proposed: http(s), a
 * host (at most 253 characters), an explicit non-zero port, nothing else (no
 * path, query or credentials), at most 512 characters. Given back as written
 * (raft normalises and checks it again with the same rules).
 */
function peerUrlOf(v: unknown): string {
  if (typeof v !== 'string') throw new HttpError(400, 'ERR_INVALID_URL', 'peerUrl must be a string like "https://member-4.example:2380"');
  try {
    normalizePeerUrl(v, API_PEER_SCHEMES);
  } catch (err) {
    throw new HttpError(400, 'ERR_INVALID_URL', (err as Error).message);
  }
  return v;
}

/** Request targets whose URL pathname is the target itself: no '.', '%', '\\', query or fragment. */
const PLAIN_TARGET = /^\/[A-Za-z0-9\-_~!$&'()*+,;=:@/]*$/;

/**
 * The pathname of a request target, as `new URL(target, 'http://x').pathname` gives it, without
 * building a URL for the plain targets the KV API sees under load (`/v1/kv/k17`); anything that
 * URL parsing could change (dot segments, percent-encoding, a leading '//', a query) goes through
 * URL. Exported for tests.
 */
export function pathOf(target: string): string {
  if (target.charCodeAt(1) !== 0x2f && PLAIN_TARGET.test(target)) return target;
  return new URL(target, 'http://x').pathname;
}

/** Maps an error to the HTTP answer (exported for tests). */
export function toHttpError(err: unknown): HttpError {
  if (err instanceof HttpError) return err;
  if (err instanceof RaftwireError) {
    switch (err.code) {
      case ErrorCode.CONFLICT:
        return new HttpError(409, err.code, err.message);
      case ErrorCode.MEMBER_NOT_FOUND:
        return new HttpError(404, err.code, err.message);
      case ErrorCode.INVALID_ARGUMENT:
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
  const timeouts = new SharedTimeouts(timeout);
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  const headersTimeout = o.headersTimeoutMs ?? 10_000;
  const keepAliveTimeout = o.keepAliveTimeoutMs ?? 30_000;

  const expected = o.token === undefined ? null : Buffer.from(`Bearer ${o.token}`);
  if (expected !== null && o.token === '') throw new RangeError('ApiServerOptions.token must not be empty');
  const authorized = (req: http.IncomingMessage): boolean => {
    if (expected === null) return true;
    const got = Buffer.from(req.headers.authorization ?? '');
    return got.length === expected.length && timingSafeEqual(got, expected);
  };

  const route = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    if (!authorized(req)) {
      res.setHeader('www-authenticate', 'Bearer realm="raftwire"');
      throw new HttpError(401, 'ERR_UNAUTHENTICATED', 'this API needs Authorization: Bearer <token> (the api-token file)');
    }
    const path = pathOf(req.url ?? '/');
    const method = req.method ?? 'GET';
    const signal = timeouts.signal();
    if (path.startsWith('/v1/kv/')) {
      const key = keyOf(path.slice('/v1/kv/'.length));
      if (method === 'PUT') {
        const value = await readBody(req, MAX_VALUE_BYTES);
        // The body Buffer is a Uint8Array, copied into the command: no second copy first.
        await node.propose(encodeKvCommand({ op: 'put', key, value }), { signal });
        send(res, 200, { key });
        return;
      }
      if (method === 'GET') {
        const v = await node.read(key, { signal });
        if (v === undefined) throw new HttpError(404, 'ERR_KEY_NOT_FOUND', `key ${JSON.stringify(key)} not found`);
        if ((req.headers.accept ?? '').includes('application/octet-stream')) {
          res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': v.length });
          res.end(v);
          return;
        }
        let text: string | null = null;
        try {
          text = utf8.decode(v);
        } catch {
          // Not UTF-8: given as base64 rather than altered.
        }
        send(res, 200, text !== null ? { key, value: text } : { key, valueBase64: Buffer.from(v).toString('base64') });
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
        voters: st.voters.map(formatId),
        learners: st.learners.map(formatId),
        peers: st.members
          .filter((m) => m.id !== st.id)
          .map((m) => {
            const since = transport.activeSince(m.id);
            return { id: formatId(m.id), url: m.url, active: since !== 0, since: since === 0 ? null : new Date(since).toISOString() };
          }),
      });
      return;
    }
    if (path === '/v1/members' && method === 'GET') {
      const st = node.status();
      send(res, 200, {
        members: st.members.map((m) => {
          const self = m.id === st.id;
          const since = self ? 0 : transport.activeSince(m.id);
          return {
            id: formatId(m.id),
            peerUrl: m.url,
            role: m.learner === true ? 'learner' : 'voter',
            learner: m.learner === true,
            self,
            reachable: self || since !== 0,
            since: since === 0 ? null : new Date(since).toISOString(),
          };
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
      const b = body as { id?: unknown; peerUrl?: unknown; learner?: unknown };
      const id = memberId(b.id);
      const peerUrl = peerUrlOf(b.peerUrl);
      if (b.learner !== undefined && typeof b.learner !== 'boolean')
        throw new HttpError(400, 'ERR_INVALID_JSON', 'learner must be true or false');
      const learner = b.learner === true;
      const members = await node.addMember(id, peerUrl, { signal, learner });
      logger.debug({ member: formatId(id), 'peer-url': peerUrl, learner }, 'client request committed: add member');
      const start = (o.joinCommand ?? ((i, u, ms) => joinCommand(i, u, ms)))(id, peerUrl, members);
      logger.info({ member: formatId(id), 'peer-url': peerUrl }, `member ${formatId(id)} must now be started: ${start}`);
      send(res, 201, { members: members.map(memberJson), start });
      return;
    }
    const promote = /^\/v1\/members\/([^/]+)\/promote$/.exec(path);
    if (promote) {
      if (method !== 'POST') throw new HttpError(405, 'ERR_METHOD', `${method} not allowed on ${path}`);
      const id = memberId(promote[1]);
      const members = await node.promoteMember(id, { signal });
      logger.debug({ member: formatId(id) }, 'client request committed: promote learner');
      send(res, 200, { members: members.map(memberJson) });
      return;
    }
    if (path.startsWith('/v1/members/')) {
      if (method !== 'DELETE') throw new HttpError(405, 'ERR_METHOD', `${method} not allowed on ${path}`);
      const id = memberId(path.slice('/v1/members/'.length));
      const members = await node.removeMember(id, { signal });
      logger.debug({ member: formatId(id) }, 'client request committed: remove member');
      send(res, 200, { members: members.map(memberJson) });
      return;
    }
    throw new HttpError(404, 'ERR_NOT_FOUND', `no route ${method} ${path}`);
  };

  const serverOptions = { connectionsCheckingInterval: Math.max(50, Math.min(1_000, headersTimeout / 4)) };
  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse): void => {
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
  };
  const server =
    o.tls === undefined
      ? http.createServer(serverOptions, onRequest)
      : https.createServer({ ...serverOptions, key: o.tls.key, cert: o.tls.cert, handshakeTimeout: headersTimeout }, onRequest);
  if (o.tls !== undefined) server.on('tlsClientError', (err) => logger.debug({ err }, 'client API TLS handshake failed'));
  // Idle connections are closed (a client must not hold descriptors for ever): one with no
  // complete request head in time (headersTimeout, checked every connectionsCheckingInterval),
  // a kept-alive one idle between requests, and any request not done in time.
  server.keepAliveTimeout = keepAliveTimeout;
  server.headersTimeout = headersTimeout;
  server.requestTimeout = timeout + headersTimeout;
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
    url: `${o.tls === undefined ? 'http' : 'https'}://${host}:${addr.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
