/**
 * What every HTTP server side of the adapter shares, whichever server API
 * receives the request (node:http, or a fetch handler in Deno, Bun, workerd
 * and routers): the options, the CORS policy, the limits on request bodies
 * and the answers they lead to, and the registry of requests in flight that
 * `shutdown()` aborts. Isomorphic: no `node:*` import.
 */
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
  serveRequest,
  silentLogger,
  textResponse,
} from '@raftwire/core';
import type { BoundedRequestBody, RequestBodyLimits } from './bounded-body.js';

/** Options every raft HTTP server side takes (node:http listener and fetch handler alike). */
export interface RaftHttpServeOptions {
  /**
   * Largest request body accepted on `/raft` paths other than
   * `/raft/snapshot`, in bytes (default 64 MiB). Over it the answer is
   * `413 request body too large`; a declared Content-Length over it is
   * refused before the handler runs. The snapshot body is streamed to the
   * handler, which bounds it.
   */
  maxBodyBytes?: number;
  /**
   * While the handler waits for request body data, the client must send some
   * within this many ms (default 5000, etcd's per-read deadline), else the
   * answer is `408 request body read timeout`.
   */
  bodyReadTimeoutMs?: number;
  /**
   * Headers added to the answers the server writes itself (413, 408, 500,
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

const DEFAULT_MAX_BODY_BYTES = 64 * 1024 * 1024;
const DEFAULT_BODY_READ_TIMEOUT_MS = 5000;

/** The limits a request body on `path` gets. */
export function bodyLimitsFor(path: string, options: RaftHttpServeOptions): RequestBodyLimits {
  return {
    maxBytes: path === RaftPath.snapshot ? Number.POSITIVE_INFINITY : (options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES),
    readTimeoutMs: options.bodyReadTimeoutMs ?? DEFAULT_BODY_READ_TIMEOUT_MS,
  };
}

/** A plain-text answer the server gives itself, with the configured response headers. */
export function serverText(options: RaftHttpServeOptions, status: number, text: string, extra: LinkHeaders = {}): HandlerResponse {
  return textResponse(status, text, { ...options.responseHeaders, ...extra });
}

/** The CORS side of {@link RaftHttpServeOptions.cors}. */
export interface CorsPolicy {
  /** Headers for a request from `origin`, or undefined when it is not an allowed cross-origin request. */
  headersFor(origin: string | undefined): LinkHeaders | undefined;
  /**
   * The answer to a preflight (`OPTIONS` with `Access-Control-Request-Method`),
   * or undefined when the request is not one (or CORS is off): the handler never sees it.
   */
  preflight(method: string, headers: LinkHeaders): HandlerResponse | undefined;
}

export function corsPolicy(options: RaftHttpServeOptions): CorsPolicy {
  const cors = options.cors;
  const headersFor = (origin: string | undefined): LinkHeaders | undefined => {
    if (cors === undefined || origin === undefined) return undefined;
    if (cors.allowedOrigins !== '*' && !cors.allowedOrigins.includes(origin)) return undefined;
    return { 'access-control-allow-origin': origin, vary: 'Origin', 'access-control-expose-headers': '*' };
  };
  return {
    headersFor,
    preflight(method, headers) {
      if (cors === undefined || method !== 'OPTIONS' || headers['access-control-request-method'] === undefined) return undefined;
      const allowed = headersFor(headers.origin);
      if (allowed === undefined) return serverText(options, 403, ErrorText.originNotAllowed);
      return {
        status: 204,
        headers: {
          ...options.responseHeaders,
          ...allowed,
          'access-control-allow-methods': 'GET, POST',
          'access-control-allow-headers': headers['access-control-request-headers'] ?? '',
          'access-control-max-age': String(cors.maxAgeSeconds ?? 600),
        },
      };
    },
  };
}

/** One raft request as a server received it, before the handler runs. */
export interface IncomingRaftRequest extends Omit<HandlerRequest, 'body'> {
  body: BoundedRequestBody;
  /** The Content-Length the client declared (0 when none). */
  declaredLength: number;
  /** True once the requester has gone away (see core's `serveRequest`). */
  gone(): boolean;
}

/**
 * Runs the handler for one request with the server's limits, and returns the
 * answer to write, or undefined when nobody is left to write it to:
 *
 * - a declared Content-Length over the limit → 413 before the handler runs;
 * - otherwise core's `serveRequest` (503 without a handler, 500 when it throws);
 * - what the body did then decides the answer, whatever the handler returned:
 *   over the limit → 413, stalled → 408.
 */
export async function answerRaftRequest(
  handler: ProtocolHandler | undefined,
  req: IncomingRaftRequest,
  options: RaftHttpServeOptions,
): Promise<HandlerResponse | undefined> {
  const { body, declaredLength, gone, ...rest } = req;
  let response: HandlerResponse | undefined;
  if (declaredLength > bodyLimitsFor(req.path, options).maxBytes) {
    body.state = 'too-large';
    response = serverText(options, 413, ErrorText.bodyTooLarge);
  } else {
    response = await serveRequest(
      handler,
      { ...rest, body },
      { gone, logger: options.logger ?? silentLogger, headers: options.responseHeaders ?? {} },
    );
  }
  if (response === undefined) return undefined; // the requester is gone; the answer was closed unread
  if (body.state === 'too-large' || body.state === 'timed-out') {
    closeBody(response.body);
    response =
      body.state === 'too-large' ? serverText(options, 413, ErrorText.bodyTooLarge) : serverText(options, 408, ErrorText.bodyReadTimeout);
  }
  if (gone()) {
    closeBody(response.body);
    return undefined;
  }
  return response;
}

/**
 * The requests a server side is serving, each with the controller behind its
 * handler's signal: `shutdown()` aborts them all with one reason (which
 * {@link InFlightRequests.isShutdown} recognizes), `idle()` waits for none.
 */
export class InFlightRequests {
  readonly shutdownReason = new RaftwireError(ErrorCode.STOPPED, 'server shutting down');
  private readonly active = new Set<AbortController>();
  private idleWaiters: (() => void)[] = [];
  closing = false;

  get size(): number {
    return this.active.size;
  }

  /** A controller for a new request (already aborted with the shutdown reason while closing). */
  begin(): AbortController {
    const ctl = new AbortController();
    this.active.add(ctl);
    if (this.closing) ctl.abort(this.shutdownReason);
    return ctl;
  }

  finished(ctl: AbortController): void {
    if (!this.active.delete(ctl)) return;
    if (this.active.size === 0 && this.idleWaiters.length > 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  /** True when `signal` was aborted by {@link shutdown} (the requester is still there). */
  isShutdown(signal: AbortSignal): boolean {
    return signal.aborted && signal.reason === this.shutdownReason;
  }

  shutdown(): void {
    this.closing = true;
    for (const ctl of this.active) ctl.abort(this.shutdownReason);
  }

  idle(): Promise<void> {
    return this.active.size === 0 ? Promise.resolve() : new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }
}
