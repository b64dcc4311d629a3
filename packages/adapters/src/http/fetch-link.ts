/**
 * `Link` on the WHATWG `fetch` API: runs in Node 20 (undici) and in browsers.
 * This file imports no `node:*` module and touches no DOM-only global.
 */
import {
  ErrorCode,
  type Link,
  type LinkHeaders,
  type LinkRequest,
  type LinkResponse,
  type Logger,
  RaftwireError,
  bodyChunks,
  onAbort,
  plainBytes,
  silentLogger,
} from '@raftwire/core';
import { collectBody, emptyBody, iterableToReadableStream } from './body-streams.js';
import { abortedError, asLinkError, linkTimeoutError } from './link-errors.js';
import { buildRequestUrl } from './request-url.js';

/** The subset of `fetch` the link calls; inject one to add a dispatcher, a proxy or instrumentation. */
export type FetchFunction = (input: string, init: RequestInit) => Promise<Response>;

/** How request bodies that are async iterables are sent. */
export type UploadMode =
  /** Stream in Node-like runtimes (undici supports `duplex: 'half'` over HTTP/1.1), buffer in browsers. */
  | 'auto'
  /** Always stream (`duplex: 'half'`); browsers only allow this over HTTP/2 or later. */
  | 'stream'
  /** Always buffer, up to `maxBufferedBodyBytes`. */
  | 'buffer';

export interface FetchLinkOptions {
  /**
   * Dial timeout in ms (default 1000). Requests without a body (stream dials,
   * probes) must get their response head within it. Requests with a streamed
   * body must have the upload started within it (the connection is up); then
   * `responseTimeoutMs` runs from the end of the upload to the response head.
   * A buffered body cannot show when the connection is up, so it gets
   * `dialTimeoutMs + responseTimeoutMs` from start to response head.
   * Response bodies (streams above all) have no timeout here: the reader of a
   * stream applies its own idle timeout kept alive by link heartbeats.
   */
  dialTimeoutMs?: number;
  /** Time from the end of a request body to the response head, in ms (default 5000). */
  responseTimeoutMs?: number;
  /**
   * How async-iterable request bodies are sent (default `'auto'`). Browsers
   * (Chromium) refuse streaming uploads over HTTP/1.1, so there `'auto'`
   * buffers the body whole before sending: fine for pipeline messages, which
   * are small, but a snapshot body is limited to `maxBufferedBodyBytes`.
   */
  uploadMode?: UploadMode;
  /** Cap on a buffered request body (default 16 MiB); above it the request fails with ERR_BUFFER_FULL. */
  maxBufferedBodyBytes?: number;
  /** The fetch to call (default `globalThis.fetch`). */
  fetch?: FetchFunction;
  /**
   * Extra `RequestInit` fields passed through to every call, e.g. an undici
   * `dispatcher` (TLS options, connection pools) in Node.
   */
  requestInit?: Omit<RequestInit, 'method' | 'headers' | 'body' | 'signal'> & Record<string, unknown>;
  logger?: Logger;
}

type StreamingRequestInit = RequestInit & { duplex?: 'half' };

/** Whole-bytes bodies up to this size are sent as-is even when streaming uploads are on. */
const SMALL_BODY_BYTES = 64 * 1024;

function runtimeStreamsUploads(): boolean {
  const proc = (globalThis as { process?: { versions?: { node?: unknown } } }).process;
  return typeof proc?.versions?.node === 'string';
}

/**
 * A `Link` over `fetch`. Errors: ERR_LINK (cause: the fetch error; an
 * ERR_TIMEOUT for dial/response-head timeouts), ERR_ABORTED when the caller's
 * signal fires or the link is closed, ERR_INVALID_URL for a bad peer URL,
 * ERR_BUFFER_FULL for a buffered body over the cap.
 *
 * In Node this client cannot present TLS client certificates without an
 * injected undici `dispatcher` (see `requestInit`); prefer `NodeHttpLink`
 * from `@raftwire/adapters/http/node` there.
 */
export class FetchLink implements Link {
  private readonly dialTimeoutMs: number;
  private readonly responseTimeoutMs: number;
  private readonly streamUploads: boolean;
  private readonly maxBufferedBodyBytes: number;
  private readonly fetchFn: FetchFunction;
  private readonly requestInit: FetchLinkOptions['requestInit'];
  private readonly log: Logger;
  private readonly inFlight = new Set<AbortController>();
  private closed = false;

  constructor(options: FetchLinkOptions = {}) {
    this.dialTimeoutMs = options.dialTimeoutMs ?? 1000;
    this.responseTimeoutMs = options.responseTimeoutMs ?? 5000;
    const mode = options.uploadMode ?? 'auto';
    this.streamUploads = mode === 'stream' || (mode === 'auto' && runtimeStreamsUploads());
    this.maxBufferedBodyBytes = options.maxBufferedBodyBytes ?? 16 * 1024 * 1024;
    const f = options.fetch ?? globalThis.fetch;
    if (typeof f !== 'function') throw new RaftwireError(ErrorCode.LINK, 'no fetch implementation in this runtime');
    this.fetchFn = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.requestInit = options.requestInit;
    this.log = options.logger ?? silentLogger;
  }

  request(url: string, req: LinkRequest): Promise<LinkResponse> {
    return this.send(url, req);
  }

  openStream(url: string, req: LinkRequest): Promise<LinkResponse> {
    return this.send(url, req);
  }

  /** Aborts every request and response body in flight (ERR_ABORTED); later calls fail with ERR_ABORTED. */
  close(): void {
    this.closed = true;
    const reason = new RaftwireError(ErrorCode.ABORTED, 'link closed');
    for (const ctl of this.inFlight) ctl.abort(reason);
    this.inFlight.clear();
  }

  private async send(peerUrl: string, req: LinkRequest): Promise<LinkResponse> {
    const url = buildRequestUrl(peerUrl, req.path);
    const target = `${req.method} ${url.href}`;
    if (this.closed) throw new RaftwireError(ErrorCode.ABORTED, 'link closed');
    if (req.signal?.aborted) throw abortedError(target, req.signal.reason);

    const ctl = new AbortController();
    this.inFlight.add(ctl);
    const disposeAbort = onAbort(req.signal, () => ctl.abort(abortedError(target, req.signal?.reason)));
    let timer: ReturnType<typeof setTimeout> | undefined;
    const arm = (phase: 'dial' | 'response head', ms: number): void => {
      clearTimeout(timer);
      timer = setTimeout(() => ctl.abort(linkTimeoutError(phase, ms, target)), ms);
    };
    const release = (): void => {
      clearTimeout(timer);
      disposeAbort();
      this.inFlight.delete(ctl);
    };

    const init: StreamingRequestInit = {
      ...this.requestInit,
      method: req.method,
      headers: req.headers,
      signal: ctl.signal,
      // Redirects are refused, as etcd's transport does. 'manual' and a check, not 'error': workerd
      // rejects 'error' outright; a browser answers 'manual' with an opaque redirect (status 0).
      redirect: 'manual',
      cache: 'no-store',
    };
    try {
      const body = req.body;
      if (body === undefined) {
        arm('dial', this.dialTimeoutMs);
      } else if (this.streamUploads && !(body instanceof Uint8Array && body.byteLength <= SMALL_BODY_BYTES)) {
        arm('dial', this.dialTimeoutMs);
        init.body = iterableToReadableStream(bodyChunks(body), {
          signal: ctl.signal,
          onStart: () => clearTimeout(timer),
          onEnd: () => {
            if (!ctl.signal.aborted) arm('response head', this.responseTimeoutMs);
          },
        });
        init.duplex = 'half';
      } else {
        const bytes = await collectBody(body, this.maxBufferedBodyBytes, ctl.signal);
        if (ctl.signal.aborted) throw ctl.signal.reason;
        arm('dial', this.dialTimeoutMs + this.responseTimeoutMs);
        // A view that fills its buffer exactly: some fetch implementations send the whole ArrayBuffer.
        init.body =
          bytes.buffer instanceof ArrayBuffer && bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength
            ? (bytes as Uint8Array<ArrayBuffer>)
            : bytes.slice();
      }
      const res = await this.fetchFn(url.href, init);
      clearTimeout(timer);
      if (res.type === 'opaqueredirect' || (res.status >= 300 && res.status < 400)) {
        res.body?.cancel().catch(() => {});
        throw new RaftwireError(ErrorCode.LINK, `${target}: refused a redirect (status ${res.status})`);
      }
      const headers: LinkHeaders = {};
      res.headers.forEach((value, name) => {
        headers[name.toLowerCase()] = value;
      });
      const stream = res.body;
      if (stream === null) {
        release();
        return { status: res.status, headers, body: emptyBody };
      }
      return { status: res.status, headers, body: responseBody(stream, ctl, release, target) };
    } catch (err) {
      release();
      const mapped = ctl.signal.aborted && ctl.signal.reason instanceof RaftwireError ? ctl.signal.reason : asLinkError(target, err);
      this.log.debug({ err: mapped, url: url.href }, 'fetch request failed');
      throw mapped;
    }
  }
}

async function* responseBody(
  stream: ReadableStream<Uint8Array>,
  ctl: AbortController,
  release: () => void,
  target: string,
): AsyncGenerator<Uint8Array, void, undefined> {
  const reader = stream.getReader();
  let finished = false;
  try {
    for (;;) {
      let r: ReadableStreamReadResult<Uint8Array>;
      try {
        r = await reader.read();
      } catch (err) {
        finished = true;
        throw ctl.signal.aborted && ctl.signal.reason instanceof RaftwireError
          ? ctl.signal.reason
          : asLinkError(`${target} response body`, err);
      }
      if (r.done) {
        finished = true;
        return;
      }
      if (r.value.byteLength > 0) yield plainBytes(r.value);
    }
  } finally {
    release();
    if (!finished) {
      // The consumer stopped early: close the request so the remote sees it go away.
      reader.cancel().catch(() => {});
      ctl.abort(new RaftwireError(ErrorCode.ABORTED, 'response body released'));
    }
  }
}
