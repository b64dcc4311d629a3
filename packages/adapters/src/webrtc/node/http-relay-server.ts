import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ContentType, ErrorCode, Header, RaftwireError, formatId, isRaftwireError, silentLogger, tryParseId } from '@raftwire/core';
import type { Id, Logger } from '@raftwire/core';
import { DEFAULT_RELAY_PREFIX, RelayRoute } from '../http-relay-signaling.js';
import { credentialVerifier } from '../identity.js';
import { InPageSignalingHub } from '../in-page-signaling.js';
import { MAX_SIGNAL_BYTES, type SignalingEndpoint } from '../signaling.js';

export interface SignalingRelayOptions {
  clusterId: Id;
  /**
   * The relay's key (≥ 16 random bytes, e.g. `generateRelayKey()`): a member joins only
   * with `signalingCredential(relayKey, clusterId, memberId)`. Required unless `insecure: true`.
   */
  relayKey?: Uint8Array;
  /** Admit any member that asks, with no credential (today's open relay, named). Exclusive with `relayKey`. */
  insecure?: boolean;
  /** Path prefix of the relay's endpoints. Default `/raft-signal`. */
  prefix?: string;
  /** Members allowed to join; default: any member ID. */
  members?: Iterable<Id>;
  /** SSE keep-alive comment period. Default 15 s. */
  keepAliveMs?: number;
  /** `Access-Control-Allow-Origin` for browser members on another origin. Default `*` (tokens travel in headers, never cookies). */
  allowOrigin?: string;
  logger?: Logger;
}

/** A relay's request handler and its in-process hub. */
export interface SignalingRelay {
  /**
   * The hub behind the relay. The Node member that serves the relay joins it
   * directly (it is a {@link Signaling}); browser members join over HTTP.
   */
  readonly hub: InPageSignalingHub;
  /** Serves a request under the prefix; returns false (and does nothing) for any other path. */
  handle(req: IncomingMessage, res: ServerResponse): boolean;
  /** Ends every event stream. */
  close(): void;
}

interface Session {
  memberId: Id;
  endpoint?: SignalingEndpoint;
  res?: ServerResponse;
  keepAlive?: ReturnType<typeof setInterval>;
}

const STATUS_FOR: Partial<Record<string, number>> = {
  [ErrorCode.DECODE]: 400,
  [ErrorCode.CLUSTER_ID_MISMATCH]: 403,
  [ErrorCode.SIGNAL_REJECTED]: 403,
  [ErrorCode.MEMBER_NOT_FOUND]: 404,
  [ErrorCode.FRAME_TOO_LARGE]: 413,
};

/**
 * An HTTP signalling relay (protocol in `HttpRelaySignaling`) to mount on the
 * Node member's HTTP server beside its raft handler. Every signal is checked
 * by the hub before it is forwarded: shape, cluster ID, `from` against the
 * member the bearer token was issued to, `to` joined. A refused signal is
 * answered with a typed `{code, message}` and forwarded to nobody.
 */
export function createSignalingRelay(options: SignalingRelayOptions): SignalingRelay {
  if (options.relayKey === undefined && options.insecure !== true) {
    throw new RaftwireError(
      ErrorCode.INVALID_ARGUMENT,
      'createSignalingRelay: pass relayKey (members then join with signalingCredential(relayKey, clusterId, memberId)), or insecure: true to admit anyone',
    );
  }
  if (options.relayKey !== undefined && options.insecure === true) {
    throw new RaftwireError(ErrorCode.INVALID_ARGUMENT, 'createSignalingRelay: relayKey and insecure: true exclude each other');
  }
  const verify = options.relayKey === undefined ? undefined : credentialVerifier(options.relayKey);
  // A bad key fails here, synchronously visible on the first join; keep the rejection handled meanwhile.
  verify?.catch(() => {});
  const prefix = (options.prefix ?? DEFAULT_RELAY_PREFIX).replace(/\/+$/, '');
  const hub = new InPageSignalingHub(options.clusterId);
  const allowed = options.members === undefined ? undefined : new Set(options.members);
  const keepAliveMs = options.keepAliveMs ?? 15_000;
  const allowOrigin = options.allowOrigin ?? '*';
  const log = options.logger ?? silentLogger;
  const sessions = new Map<string, Session>();

  const reply = (res: ServerResponse, status: number, body?: unknown): void => {
    res.statusCode = status;
    if (body !== undefined) {
      res.setHeader(Header.contentType, ContentType.json);
      res.end(JSON.stringify(body));
    } else {
      res.end();
    }
  };
  const fail = (res: ServerResponse, err: unknown): void => {
    const e = isRaftwireError(err) ? err : new RaftwireError(ErrorCode.DECODE, String(err));
    reply(res, STATUS_FOR[e.code] ?? 400, { code: e.code, message: e.message });
  };
  const bearer = (req: IncomingMessage): Session | undefined => {
    const m = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '');
    return m ? sessions.get(m[1] as string) : undefined;
  };
  const endSession = (token: string): void => {
    const s = sessions.get(token);
    if (s === undefined) return;
    sessions.delete(token);
    if (s.keepAlive) clearInterval(s.keepAlive);
    s.endpoint?.close();
    if (s.res && !s.res.writableEnded) s.res.end();
  };

  const readBody = (req: IncomingMessage): Promise<string> =>
    new Promise((resolve, reject) => {
      let size = 0;
      const parts: Buffer[] = [];
      req.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_SIGNAL_BYTES) {
          reject(new RaftwireError(ErrorCode.FRAME_TOO_LARGE, `signal over ${MAX_SIGNAL_BYTES} bytes`));
          req.destroy();
          return;
        }
        parts.push(c);
      });
      req.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
      req.on('error', reject);
    });

  const onJoin = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    let body: unknown;
    try {
      body = JSON.parse(await readBody(req));
    } catch (err) {
      fail(res, isRaftwireError(err) ? err : new RaftwireError(ErrorCode.DECODE, 'join body is not JSON'));
      return;
    }
    const rec = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
    const clusterId = typeof rec.clusterId === 'string' ? tryParseId(rec.clusterId) : undefined;
    const memberId = typeof rec.memberId === 'string' ? tryParseId(rec.memberId) : undefined;
    if (clusterId === undefined || memberId === undefined) {
      fail(res, new RaftwireError(ErrorCode.DECODE, 'join needs clusterId and memberId as lowercase hex IDs'));
      return;
    }
    if (clusterId !== options.clusterId) {
      fail(
        res,
        new RaftwireError(
          ErrorCode.CLUSTER_ID_MISMATCH,
          `join for cluster ${formatId(clusterId)}, relay serves ${formatId(options.clusterId)}`,
        ),
      );
      return;
    }
    if (allowed !== undefined && !allowed.has(memberId)) {
      fail(res, new RaftwireError(ErrorCode.SIGNAL_REJECTED, `member ${formatId(memberId)} may not join this relay`));
      return;
    }
    if (verify !== undefined) {
      const credential = typeof rec.credential === 'string' ? rec.credential : undefined;
      const ok = credential !== undefined && (await (await verify)(clusterId, memberId, credential));
      if (!ok) {
        log.warn(
          { 'remote-peer-id': formatId(memberId) },
          credential === undefined ? 'relay refused a join with no credential' : 'relay refused a join with a bad credential',
        );
        reply(res, 401, {
          code: ErrorCode.SIGNAL_REJECTED,
          message: `member ${formatId(memberId)} ${credential === undefined ? 'showed no' : 'showed a bad'} signalling credential`,
        });
        return;
      }
    }
    const token = randomUUID();
    sessions.set(token, { memberId });
    reply(res, 200, { token });
  };

  const onEvents = (req: IncomingMessage, res: ServerResponse, url: URL): void => {
    const token = url.searchParams.get('token') ?? '';
    const s = sessions.get(token);
    if (s === undefined || s.res !== undefined) {
      reply(res, 401, { code: ErrorCode.SIGNAL_REJECTED, message: 'unknown or used relay token' });
      return;
    }
    res.writeHead(200, { [Header.contentType]: 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
    res.flushHeaders();
    s.res = res;
    s.endpoint = hub.register(options.clusterId, s.memberId, (msg) => {
      res.write(`data: ${JSON.stringify(msg)}\n\n`);
    });
    s.keepAlive = setInterval(() => res.write(': keep-alive\n\n'), keepAliveMs);
    const onGone = (): void => endSession(token);
    req.on('close', onGone);
    res.on('close', onGone);
    log.debug({ 'remote-peer-id': formatId(s.memberId) }, 'relay member joined');
  };

  const onSend = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const s = bearer(req);
    if (s === undefined || s.endpoint === undefined) {
      reply(res, 401, { code: ErrorCode.SIGNAL_REJECTED, message: 'unknown relay token or no open event stream' });
      return;
    }
    try {
      const text = await readBody(req);
      let raw: unknown;
      try {
        raw = JSON.parse(text);
      } catch (err) {
        throw new RaftwireError(ErrorCode.DECODE, 'signal is not valid JSON', { cause: err });
      }
      hub.deliver(raw, s.memberId);
      reply(res, 204);
    } catch (err) {
      log.warn({ 'remote-peer-id': formatId(s.memberId), error: String(err) }, 'relay rejected a signal');
      fail(res, err);
    }
  };

  return {
    hub,
    handle(req, res) {
      const url = new URL(req.url ?? '/', 'http://relay.invalid');
      if (url.pathname !== prefix && !url.pathname.startsWith(`${prefix}/`)) return false;
      res.setHeader('access-control-allow-origin', allowOrigin);
      const route = url.pathname.slice(prefix.length);
      if (req.method === 'OPTIONS') {
        res.setHeader('access-control-allow-methods', 'GET, POST');
        res.setHeader('access-control-allow-headers', 'authorization, content-type');
        reply(res, 204);
        return true;
      }
      if (route === RelayRoute.join && req.method === 'POST') void onJoin(req, res);
      else if (route === RelayRoute.events && req.method === 'GET') onEvents(req, res, url);
      else if (route === RelayRoute.send && req.method === 'POST') void onSend(req, res);
      else if (route === RelayRoute.leave && req.method === 'POST') {
        const m = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '');
        if (m) endSession(m[1] as string);
        reply(res, 204);
      } else reply(res, 404, { code: ErrorCode.DECODE, message: 'no such relay endpoint' });
      return true;
    },
    close() {
      for (const token of [...sessions.keys()]) endSession(token);
    },
  };
}
