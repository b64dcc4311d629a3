/**
 * Mounts a `ProtocolHandler` on `node:http` requests under `/raft` (and the few paths outside it
 * that the handler's wire profile serves, such as etcd's `/version` and `/members`).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  ErrorCode,
  ErrorText,
  type HandlerRequest,
  type HandlerResponse,
  type LinkHeaders,
  type Logger,
  type ProtocolHandler,
  RaftPath,
  RaftwireError,
  closeBody,
  handlesPath,
  pathOf,
  serveRequest,
  silentLogger,
  textResponse,
} from '@raftwire/core';
import { linkHeaders } from './link-headers.js';
import { RequestBody } from './request-body.js';
import { writeHandlerResponse, writeText } from './write-response.js';

export interface RaftRequestListenerOptions {
  /**
   * Largest request body accepted on `/raft` paths other than
   * `/raft/snapshot`, in bytes (default 64 MiB). Over it the answer is
   * `413 request body too large` and the connection is closed; a declared
   * Content-Length over it is refused before the handler runs. The snapshot
   * body is streamed to the handler, which bounds it.
   */
  maxBodyBytes?: number;
  /**
   * While the handler waits for request body data, the client must send some
   * within this many ms (default 5000, etcd's per-read deadline), else the
   * answer is `408 request body read timeout` and the connection is closed.
   */
  bodyReadTimeoutMs?: number;
  /**
   * Headers added to the answers the adapter writes itself (413, 408, 500,
   * 503, preflights), e.g. `x-etcd-cluster-id` and `x-server-version`, which
   * docs/design.md §3 wants on every response. Handler responses are left as they are.
   */
  responseHeaders?: LinkHeaders;
  /**
   * Let browser members on other origins call this server (off by default).
   * Preflights (`OPTIONS` with `Access-Control-Request-Method`) from an
   * allowed origin are answered here (204) without calling the handler, and
   * every response to an allowed origin carries `Access-Control-Allow-Origin`
   * and exposes all response headers. Other origins get no CORS headers
   * (their preflight gets 403), so their browsers refuse the response.
   */
  cors?: RaftCorsOptions;
  logger?: Logger;
}

export interface RaftCorsOptions {
  /** Exact origins (`http://127.0.0.1:5173`), or `'*'` for any. */
  allowedOrigins: readonly string[] | '*';
  /** How long a browser may cache a preflight answer, in seconds (default 600). */
  maxAgeSeconds?: number;
}

/**
 * A `(req, res) => boolean` for an existing node:http(s) server: it takes
 * `/raft` and `/raft/*` requests (returns true) and leaves others to the
 * caller (returns false, response untouched).
 */
export interface RaftRequestListener {
  (req: IncomingMessage, res: ServerResponse): boolean;
  /** Requests being handled (streams included). */
  readonly activeRequests: number;
  /**
   * Stops taking requests (later ones get 503 with Connection: close), aborts
   * the signal of every request in flight and ends every response stream.
   */
  shutdown(): void;
  /** Resolves when no request is in flight. */
  idle(): Promise<void>;
}

const DEFAULT_MAX_BODY_BYTES = 64 * 1024 * 1024;

function remoteAddressOf(req: IncomingMessage): string | undefined {
  const { remoteAddress, remotePort } = req.socket;
  if (remoteAddress === undefined) return undefined;
  const host = remoteAddress.includes(':') ? `[${remoteAddress}]` : remoteAddress;
  return remotePort === undefined ? host : `${host}:${remotePort}`;
}

/**
 * Creates a request listener that hands `/raft` requests to `handler`: see
 * {@link RaftRequestListener}. Mount it first in an existing server:
 * `server.on('request', (req, res) => { if (!raft(req, res)) app(req, res); })`.
 */
export function createRaftRequestListener(handler: ProtocolHandler, options: RaftRequestListenerOptions = {}): RaftRequestListener {
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const bodyReadTimeoutMs = options.bodyReadTimeoutMs ?? 5000;
  const log = options.logger ?? silentLogger;
  const base = options.responseHeaders ?? {};
  const plain = (status: number, text: string): HandlerResponse => textResponse(status, text, base);
  const active = new Set<AbortController>();
  let closing = false;
  let idleWaiters: Array<() => void> = [];
  const shutdownReason = new RaftwireError(ErrorCode.STOPPED, 'server shutting down');

  const finished = (ctl: AbortController): void => {
    active.delete(ctl);
    if (active.size === 0 && idleWaiters.length > 0) {
      const waiters = idleWaiters;
      idleWaiters = [];
      for (const w of waiters) w();
    }
  };

  const cors = options.cors;
  /** CORS headers for this request's origin, or undefined when it is not an allowed cross-origin request. */
  const corsHeaders = (req: IncomingMessage): LinkHeaders | undefined => {
    const origin = req.headers.origin;
    if (cors === undefined || origin === undefined) return undefined;
    if (cors.allowedOrigins !== '*' && !cors.allowedOrigins.includes(origin)) return undefined;
    return { 'access-control-allow-origin': origin, vary: 'Origin', 'access-control-expose-headers': '*' };
  };

  const serve = async (
    req: IncomingMessage,
    res: ServerResponse,
    path: string,
    ctl: AbortController,
    corsExtra: LinkHeaders,
  ): Promise<void> => {
    const limit = path === RaftPath.snapshot ? Number.POSITIVE_INFINITY : maxBodyBytes;
    const declared = Number(req.headers['content-length'] ?? '0');
    const body = new RequestBody(req, { maxBytes: limit, readTimeoutMs: bodyReadTimeoutMs });
    const gone = (): boolean => res.destroyed || (ctl.signal.aborted && ctl.signal.reason !== shutdownReason);
    let response: HandlerResponse | undefined;
    if (declared > limit) {
      body.state = 'too-large';
      response = plain(413, ErrorText.bodyTooLarge);
    } else {
      const request: HandlerRequest = {
        method: req.method ?? 'GET',
        path,
        headers: linkHeaders(req.headers),
        body,
        signal: ctl.signal,
      };
      const remoteAddress = remoteAddressOf(req);
      if (remoteAddress !== undefined) request.remoteAddress = remoteAddress;
      response = await serveRequest(handler, request, { gone, logger: log, headers: base });
    }
    if (response === undefined) return; // the requester is gone; the answer was closed unread
    if (body.state === 'too-large' || body.state === 'timed-out') {
      // What the body did decides the answer, whatever the handler returned.
      closeBody(response.body);
      response = body.state === 'too-large' ? plain(413, ErrorText.bodyTooLarge) : plain(408, ErrorText.bodyReadTimeout);
    }
    if (gone()) {
      closeBody(response.body);
      return;
    }
    // A body left unread (or refused) must not be drained at the cost of the connection: close it instead.
    const extra: LinkHeaders = !req.complete || closing ? { ...corsExtra, connection: 'close' } : corsExtra;
    const outcome = await writeHandlerResponse(res, response, extra, ctl.signal);
    if (outcome === 'stopped' && !res.writableEnded && !res.destroyed) res.end();
    if (extra['connection'] === 'close' && !req.complete) {
      res.once('finish', () => req.socket.destroySoon());
    }
  };

  const listener = ((req: IncomingMessage, res: ServerResponse): boolean => {
    const path = pathOf(req.url ?? '/');
    if (!handlesPath(handler, path)) return false;
    const ctl = new AbortController();
    active.add(ctl);
    res.once('close', () => {
      if (!res.writableFinished) ctl.abort(new RaftwireError(ErrorCode.LINK, 'requester went away'));
      finished(ctl);
    });
    req.socket.setNoDelay(true);
    if (closing) {
      ctl.abort(shutdownReason);
      writeText(res, 503, ErrorText.shuttingDown, { ...base, connection: 'close' });
      return true;
    }
    const corsExtra = corsHeaders(req);
    if (req.method === 'OPTIONS' && req.headers['access-control-request-method'] !== undefined && cors !== undefined) {
      // A CORS preflight: answered here, never seen by the protocol handler.
      if (corsExtra === undefined) {
        writeText(res, 403, ErrorText.originNotAllowed, base);
      } else {
        res.writeHead(204, {
          ...base,
          ...corsExtra,
          'access-control-allow-methods': 'GET, POST',
          'access-control-allow-headers': req.headers['access-control-request-headers'] ?? '',
          'access-control-max-age': String(cors.maxAgeSeconds ?? 600),
        });
        res.end();
      }
      return true;
    }
    serve(req, res, path, ctl, corsExtra ?? {}).catch((err: unknown) => {
      log.error({ err, path }, 'raft response failed');
      res.destroy();
    });
    return true;
  }) as RaftRequestListener;

  Object.defineProperty(listener, 'activeRequests', { get: () => active.size });
  listener.shutdown = () => {
    closing = true;
    for (const ctl of active) ctl.abort(shutdownReason);
  };
  listener.idle = () => (active.size === 0 ? Promise.resolve() : new Promise<void>((resolve) => idleWaiters.push(resolve)));
  return listener;
}
