/**
 * The raft protocol's server side on the web-standard fetch API:
 * `(request: Request) => Promise<Response>`, for `Deno.serve`, `Bun.serve`, a
 * Worker's or Durable Object's `fetch`, and routers that hand out `Request`s
 * (Hono, itty-router, ...). Isomorphic: no `node:*` import, no DOM-only global.
 * The statuses, limits and CORS rules are the Node server's (`serve-http.ts`).
 */
import {
  ErrorCode,
  ErrorText,
  type HandlerResponse,
  type LinkHeaders,
  type ProtocolHandler,
  RaftwireError,
  closeIterator,
  handlesPath,
  onAbort,
  silentLogger,
} from '@raftwire/core';
import { BoundedRequestBody } from './bounded-body.js';
import { InFlightRequests, type RaftHttpServeOptions, answerRaftRequest, bodyLimitsFor, corsPolicy, serverText } from './serve-http.js';

export interface FetchHandlerOptions extends RaftHttpServeOptions {
  /**
   * A path prefix the handler is mounted under (`/cluster` serves
   * `/cluster/raft/...`); the members' peer URLs then end with it
   * (`http://host:port/cluster`). Default: none.
   */
  basePath?: string;
  /** Requests outside the raft paths (default: `404 page not found`). */
  fallback?: (request: Request) => Response | Promise<Response>;
}

/** What the server knows about a request beyond the `Request` itself. */
export interface FetchRequestInfo {
  /** The requester's address, for logs and metric labels (e.g. `127.0.0.1:51234`). */
  remoteAddress?: string;
  /**
   * Aborted when the requester goes away (default: `request.signal`). Either
   * way a response stream the requester stops reading is cancelled, which the
   * handler learns at once. `serveFetch` passes one in Deno, whose
   * `request.signal` also aborts after every successful response (and warns
   * when it is read).
   */
  signal?: AbortSignal;
}

/**
 * A fetch handler serving the raft protocol. Call it with a `Request`, or use
 * {@link RaftFetchHandler.handle} to pass what the server knows about the
 * requester (`Deno.serve`'s `info.remoteAddr`, Bun's `server.requestIP()`).
 */
export interface RaftFetchHandler {
  (request: Request): Promise<Response>;
  handle(request: Request, info?: FetchRequestInfo): Promise<Response>;
  /** Requests being handled (open response streams included). */
  readonly activeRequests: number;
  /**
   * Stops taking requests (later ones get `503 server shutting down`), aborts
   * the signal of every request in flight and ends every response stream
   * cleanly, so readers see the end.
   */
  shutdown(): void;
  /** Resolves when no request is in flight. */
  idle(): Promise<void>;
}

/** A request's headers as the Link contract carries them (lowercase names, repeats joined). */
function linkHeadersOf(headers: Headers): LinkHeaders {
  const out: LinkHeaders = {};
  headers.forEach((value, name) => {
    out[name.toLowerCase()] = value;
  });
  return out;
}

/**
 * A request body stream as an async iterable whose `return()` cancels the
 * stream at once, even while a read is pending (a stalled client).
 */
function streamChunks(stream: ReadableStream<Uint8Array> | null): AsyncIterable<Uint8Array> {
  return {
    [Symbol.asyncIterator]() {
      if (stream === null) return { next: async () => ({ done: true, value: undefined }) };
      const reader = stream.getReader();
      return {
        next: async () => {
          const r = await reader.read();
          return r.done ? { done: true, value: undefined } : { done: false, value: r.value };
        },
        return: async () => {
          reader.cancel().catch(() => {});
          return { done: true, value: undefined };
        },
      };
    },
  };
}

const STOPPED = Symbol('stopped');

/**
 * A handler's response as a `Response`. An iterable body becomes a pull-based
 * stream (nothing read ahead of the socket), each chunk enqueued as it comes,
 * so a server that writes what is enqueued (Deno, Bun, workerd do) flushes
 * every frame. `stop` ends the stream cleanly at once (server shutting down,
 * requester gone); a source that throws errors the stream, which cuts the
 * connection so the reader sees a broken stream, not a clean end. `done` runs
 * once the body is finished, whichever way; `onCancel` when the reader cancels it.
 */
function toResponse(
  r: HandlerResponse,
  extra: LinkHeaders,
  stop: AbortSignal,
  done: () => void,
  onCancel: () => void = () => {},
): Response {
  const headers = new Headers();
  for (const [name, value] of Object.entries({ ...r.headers, ...extra })) headers.set(name, value);
  const noBody = r.status === 204 || r.status === 304;
  const body = r.body;
  if (body === undefined || body instanceof Uint8Array) {
    done();
    const bytes = body ?? new Uint8Array(0);
    return new Response(noBody ? null : (bytes as Uint8Array<ArrayBuffer>), { status: r.status, headers });
  }
  const it = body[Symbol.asyncIterator]();
  let finished = false;
  let disposeStop = (): void => {};
  const stopped = new Promise<typeof STOPPED>((resolve) => {
    disposeStop = onAbort(stop, () => resolve(STOPPED));
  });
  const finish = (closeSource: boolean): void => {
    if (finished) return;
    finished = true;
    disposeStop();
    if (closeSource) closeIterator(it);
    done();
  };
  const stream = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        for (;;) {
          if (finished) return;
          const pending = it.next();
          let next: IteratorResult<Uint8Array> | typeof STOPPED;
          try {
            next = await Promise.race([pending, stopped]);
          } catch (err) {
            finish(false);
            controller.error(err);
            return;
          }
          if (next === STOPPED || stop.aborted) {
            pending.catch(() => {});
            finish(true);
            controller.close();
            return;
          }
          if (next.done) {
            finish(false);
            controller.close();
            return;
          }
          if (next.value.byteLength > 0) {
            controller.enqueue(next.value);
            return;
          }
        }
      },
      cancel() {
        onCancel();
        finish(true);
      },
    },
    { highWaterMark: 0 },
  );
  return new Response(stream, { status: r.status, headers });
}

function plainResponse(r: HandlerResponse): Response {
  return toResponse(r, {}, new AbortController().signal, () => {});
}

/**
 * Serves `handler` (a transport's `handler`) on the fetch API. Mount it as
 * the whole server or under a router:
 *
 * ```ts
 * const raft = createFetchHandler(transport.handler);
 * Deno.serve({ hostname: '127.0.0.1', port: 2380 }, raft);
 * Bun.serve({ hostname: '127.0.0.1', port: 2380, fetch: raft });
 * export default { fetch: raft };                       // a Worker
 * app.all('/raft/*', (c) => raft(c.req.raw));            // Hono
 * ```
 *
 * Answers the handler never sees (or whose answer is replaced), as the Node
 * server gives them: `413 request body too large`, `408 request body read
 * timeout`, `500 internal error`, `503 server shutting down`, CORS preflights
 * (`204`/`403`) when `cors` is set, and `404` outside the raft paths (or the
 * `fallback`). Unlike node:http, a fetch server owns its connections: after a
 * 413 or 408 the runtime decides whether the connection stays open.
 */
export function createFetchHandler(handler: ProtocolHandler, options: FetchHandlerOptions = {}): RaftFetchHandler {
  const log = options.logger ?? silentLogger;
  const inFlight = new InFlightRequests();
  const cors = corsPolicy(options);
  const basePath = (options.basePath ?? '').replace(/\/+$/, '');

  const handle = async (request: Request, info: FetchRequestInfo = {}): Promise<Response> => {
    const url = new URL(request.url);
    const path = url.pathname.startsWith(`${basePath}/`) ? url.pathname.slice(basePath.length) : undefined;
    if (path === undefined || !handlesPath(handler, path)) {
      if (options.fallback) return options.fallback(request);
      return plainResponse(serverText(options, 404, ErrorText.notFound));
    }
    const ctl = inFlight.begin();
    const requesterLeft = (): void => ctl.abort(new RaftwireError(ErrorCode.LINK, 'requester went away'));
    const disposeGone = onAbort(info.signal ?? request.signal, requesterLeft);
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      disposeGone();
      inFlight.finished(ctl);
    };
    try {
      if (inFlight.closing) {
        release();
        return plainResponse(serverText(options, 503, ErrorText.shuttingDown, { connection: 'close' }));
      }
      const headers = linkHeadersOf(request.headers);
      const preflight = cors.preflight(request.method, headers);
      if (preflight !== undefined) {
        // A CORS preflight: answered here, never seen by the protocol handler.
        release();
        return plainResponse(preflight);
      }
      const body = new BoundedRequestBody(streamChunks(request.body), bodyLimitsFor(path, options), closeIterator);
      const response = await answerRaftRequest(
        handler,
        {
          method: request.method,
          path,
          headers,
          body,
          signal: ctl.signal,
          declaredLength: Number(headers['content-length'] ?? '0'),
          gone: () => ctl.signal.aborted && !inFlight.isShutdown(ctl.signal),
          ...(info.remoteAddress !== undefined ? { remoteAddress: info.remoteAddress } : {}),
        },
        options,
      );
      if (response === undefined) {
        // The requester is gone and the answer was closed unread: this one goes nowhere.
        release();
        return new Response(null, { status: 499 });
      }
      return toResponse(response, cors.headersFor(headers.origin) ?? {}, ctl.signal, release, requesterLeft);
    } catch (err) {
      release();
      log.error({ err, path }, 'raft response failed');
      return plainResponse(serverText(options, 500, ErrorText.internalError));
    }
  };

  const fetchHandler = ((request: Request) => handle(request)) as RaftFetchHandler;
  fetchHandler.handle = handle;
  Object.defineProperty(fetchHandler, 'activeRequests', { get: () => inFlight.size });
  fetchHandler.shutdown = () => inFlight.shutdown();
  fetchHandler.idle = () => inFlight.idle();
  return fetchHandler;
}
