/**
 * `Link` on `node:http` / `node:https` with keep-alive agents. As etcd does,
 * long-lived streams and one-shot requests use separate agents: the pipeline
 * agent keeps idle connections for reuse, the stream agent does not (a stream
 * holds its connection for its whole life).
 */
import * as http from 'node:http';
import * as https from 'node:https';
import {
  ErrorCode,
  type Link,
  type LinkRequest,
  type LinkResponse,
  type Logger,
  RaftwireError,
  closeIterator,
  onAbort,
  plainBytes,
  silentLogger,
} from '@raftwire/core';
import { emptyBody } from '../body-streams.js';
import { abortedError, asLinkError, linkTimeoutError } from '../link-errors.js';
import { buildRequestUrl } from '../request-url.js';
import { drainOrClose } from './drain.js';
import { linkHeaders } from './link-headers.js';
import { openRawStream } from './raw-stream.js';
import { ReadAhead, listenBody } from './read-ahead.js';
import { type RaftClientTlsOptions, pemInput, pemList } from './tls-options.js';

export interface NodeHttpLinkOptions {
  /**
   * Dial timeout in ms (default 1000). Requests without a body (stream dials,
   * probes) must get their response head within it; requests with a body must
   * get the connection (TCP, and TLS handshake for https) within it, and then
   * `responseTimeoutMs` runs from the end of the upload to the response head.
   * No timeout applies to response bodies.
   */
  dialTimeoutMs?: number;
  /** Time from the end of a request body to the response head, in ms (default 5000). */
  responseTimeoutMs?: number;
  /** TLS settings for `https:` peer URLs. */
  tls?: RaftClientTlsOptions;
  /** Idle keep-alive connections kept per host by the pipeline agent (default 1024, as etcd's pipeline round tripper). */
  maxFreeSockets?: number;
  /** An idle pooled connection is closed after this many ms (default 4000: below Node servers' 5 s keep-alive). */
  idleSocketTimeoutMs?: number;
  logger?: Logger;
}

type Kind = 'pipeline' | 'stream';

interface Pending {
  fail(err: RaftwireError): void;
}

/**
 * A `Link` over node:http(s). Errors: ERR_LINK (connection refused/reset, TLS
 * failures, dial or response-head timeout with an ERR_TIMEOUT cause),
 * ERR_ABORTED (caller's signal or `close()`), ERR_INVALID_URL.
 */
export class NodeHttpLink implements Link {
  private readonly dialTimeoutMs: number;
  private readonly responseTimeoutMs: number;
  private readonly log: Logger;
  private readonly agents: Record<Kind, { http: http.Agent; https: https.Agent }>;
  /** The https agents' TLS settings, also used by stream dials on their own TLS sockets. */
  private readonly tlsOptions: https.AgentOptions;
  private readonly pending = new Set<Pending>();
  private closed = false;

  constructor(options: NodeHttpLinkOptions = {}) {
    this.dialTimeoutMs = options.dialTimeoutMs ?? 1000;
    this.responseTimeoutMs = options.responseTimeoutMs ?? 5000;
    this.log = options.logger ?? silentLogger;
    const tls = options.tls ?? {};
    const tlsAgentOptions: https.AgentOptions = {
      rejectUnauthorized: tls.rejectUnauthorized ?? true,
      ...(tls.ca !== undefined ? { ca: pemList(tls.ca) } : {}),
      ...(tls.cert !== undefined ? { cert: pemInput(tls.cert) } : {}),
      ...(tls.key !== undefined ? { key: pemInput(tls.key) } : {}),
      ...(tls.servername !== undefined ? { servername: tls.servername } : {}),
      ...(tls.minVersion !== undefined ? { minVersion: tls.minVersion } : {}),
    };
    this.tlsOptions = tlsAgentOptions;
    const pipeline: http.AgentOptions = {
      keepAlive: true,
      maxFreeSockets: options.maxFreeSockets ?? 1024,
      timeout: options.idleSocketTimeoutMs ?? 4000,
      scheduling: 'lifo',
    };
    const stream: http.AgentOptions = { keepAlive: false };
    this.agents = {
      pipeline: { http: new http.Agent(pipeline), https: new https.Agent({ ...pipeline, ...tlsAgentOptions }) },
      stream: { http: new http.Agent(stream), https: new https.Agent({ ...stream, ...tlsAgentOptions }) },
    };
  }

  /**
   * One-shot request on the pipeline agent. A request with no body or a
   * whole-bytes body that fails on a reused keep-alive connection before any
   * answer (the remote closed it as we reused it) is retried once on a fresh
   * connection; streamed bodies are never replayed.
   */
  request(url: string, req: LinkRequest): Promise<LinkResponse> {
    return this.send(url, req, 'pipeline', true);
  }

  /**
   * A long-lived stream on the stream agent; a dial without a body (every stream reader's `GET`)
   * goes on its own TCP or TLS socket read without node's HTTP parser (raw-stream.ts), so the
   * body's chunks are views of the socket's reads, not copies.
   */
  openStream(url: string, req: LinkRequest): Promise<LinkResponse> {
    if (req.body === undefined && req.method === 'GET') {
      const u = buildRequestUrl(url, req.path);
      if (u.protocol === 'http:' || u.protocol === 'https:') {
        const target = `${req.method} ${u.href}`;
        if (this.closed) return Promise.reject(new RaftwireError(ErrorCode.ABORTED, 'link closed'));
        if (req.signal?.aborted) return Promise.reject(abortedError(target, req.signal.reason));
        return openRawStream({
          url: u,
          path: u.pathname,
          headers: req.headers,
          dialTimeoutMs: this.dialTimeoutMs,
          signal: req.signal,
          target,
          tls: u.protocol === 'https:' ? this.tlsOptions : undefined,
          track: (fail) => {
            const entry: Pending = { fail };
            this.pending.add(entry);
            return () => this.pending.delete(entry);
          },
        });
      }
    }
    return this.send(url, req, 'stream', false);
  }

  /** Aborts everything in flight (ERR_ABORTED) and closes pooled connections. */
  close(): void {
    this.closed = true;
    const reason = new RaftwireError(ErrorCode.ABORTED, 'link closed');
    for (const p of [...this.pending]) p.fail(reason);
    for (const kind of ['pipeline', 'stream'] as const) {
      this.agents[kind].http.destroy();
      this.agents[kind].https.destroy();
    }
  }

  private async send(peerUrl: string, req: LinkRequest, kind: Kind, mayRetry: boolean): Promise<LinkResponse> {
    const url = buildRequestUrl(peerUrl, req.path);
    const target = `${req.method} ${url.href}`;
    if (this.closed) throw new RaftwireError(ErrorCode.ABORTED, 'link closed');
    if (req.signal?.aborted) throw abortedError(target, req.signal.reason);
    const isHttps = url.protocol === 'https:';
    const agent = isHttps ? this.agents[kind].https : this.agents[kind].http;
    const body = req.body;
    const headers: Record<string, string> = { ...req.headers };
    if (body instanceof Uint8Array) headers['content-length'] = String(body.byteLength);
    // A streamed body of known length (a snapshot) goes with Content-Length, not chunked framing.
    else if (body !== undefined && req.length !== undefined) headers['content-length'] = String(req.length);

    return new Promise<LinkResponse>((resolve, reject) => {
      let failure: RaftwireError | undefined;
      let responded = false;
      let uploadDone = body === undefined || body instanceof Uint8Array;
      let timer: NodeJS.Timeout | undefined;
      let res: http.IncomingMessage | undefined;

      const creq = (isHttps ? https : http).request({
        protocol: url.protocol,
        hostname: url.hostname.replace(/^\[|\]$/g, ''),
        port: url.port,
        path: url.pathname,
        method: req.method,
        headers,
        agent,
      });

      const entry: Pending = { fail: (err) => fail(err) };
      this.pending.add(entry);
      let disposeAbort = (): void => {};
      const done = (): void => {
        clearTimeout(timer);
        disposeAbort();
        this.pending.delete(entry);
      };
      const fail = (err: RaftwireError): void => {
        if (failure !== undefined) return;
        failure = err;
        done();
        creq.destroy(err);
        res?.destroy(err);
        if (!responded) {
          responded = true;
          this.log.debug({ err, url: url.href }, 'http request failed');
          reject(err);
        }
      };
      disposeAbort = onAbort(req.signal, () => fail(abortedError(target, req.signal?.reason)));
      const arm = (phase: 'dial' | 'response head', ms: number): void => {
        clearTimeout(timer);
        timer = setTimeout(() => fail(linkTimeoutError(phase, ms, target)), ms);
      };

      arm('dial', this.dialTimeoutMs);
      if (body !== undefined) {
        creq.once('socket', (socket) => {
          const connected = (): void => {
            if (!responded && failure === undefined) clearTimeout(timer);
          };
          if (socket.connecting) socket.once(isHttps ? 'secureConnect' : 'connect', connected);
          else connected();
        });
        creq.once('finish', () => {
          uploadDone = true;
          if (!responded && failure === undefined) arm('response head', this.responseTimeoutMs);
        });
      }
      creq.on('error', (err) => {
        const replayable = body === undefined || body instanceof Uint8Array;
        if (mayRetry && replayable && creq.reusedSocket && !responded && failure === undefined && isStaleSocketError(err)) {
          responded = true;
          failure = asLinkError(target, err);
          done();
          creq.destroy();
          this.log.debug({ err, url: url.href }, 'reused connection was closed by the remote; retrying once on a new one');
          resolve(this.send(peerUrl, req, kind, false));
          return;
        }
        fail(asLinkError(target, err));
      });
      creq.once('response', (incoming) => {
        if (failure !== undefined) {
          incoming.destroy();
          return;
        }
        res = incoming;
        responded = true;
        clearTimeout(timer);
        const resHeaders = linkHeaders(incoming.headers);
        const status = incoming.statusCode ?? 0;
        const release = (complete: boolean): void => {
          done();
          // A connection whose request or response was cut short cannot be reused.
          if (!complete || !uploadDone) creq.destroy();
        };
        if (status === 204 || status === 304) {
          incoming.resume();
          incoming.once('end', () => release(true));
          resolve({ status, headers: resHeaders, body: emptyBody });
          return;
        }
        resolve({ status, headers: resHeaders, body: responseBody(incoming, () => failure, release, target) });
      });

      if (body === undefined) creq.end();
      else if (body instanceof Uint8Array) creq.end(body);
      else {
        pump(creq, body, () => failure !== undefined || responded).then(
          (ended) => {
            if (!ended && !responded) fail(new RaftwireError(ErrorCode.ABORTED, `${target} request body stopped`));
          },
          (err: unknown) => fail(asLinkError(`${target} request body`, err)),
        );
      }
    });
  }
}

/** The errors a keep-alive connection closed by the remote under us produces. */
function isStaleSocketError(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return code === 'ECONNRESET' || code === 'EPIPE';
}

/**
 * Writes an async-iterable body with backpressure. Returns true when the body
 * was written whole and the request ended; false when `stop()` turned true
 * (failure, or the server answered before the upload finished).
 */
async function pump(creq: http.ClientRequest, body: AsyncIterable<Uint8Array>, stop: () => boolean): Promise<boolean> {
  const it = body[Symbol.asyncIterator]();
  let finished = false;
  try {
    for (;;) {
      if (stop()) return false;
      const r = await it.next();
      if (r.done) {
        finished = true;
        break;
      }
      if (stop()) return false;
      if (r.value.byteLength > 0 && !creq.write(r.value)) await drainOrClose(creq);
    }
    if (stop()) return false;
    creq.end();
    return true;
  } finally {
    if (!finished) closeIterator(it);
  }
}

/**
 * The response body as chunks, read in flowing mode ('data' events) through a {@link ReadAhead}. Not `for await` over the
 * IncomingMessage: its iterator pulls with `read()`, which joins buffered chunks into a copy, and
 * pauses the socket at the stream's 16 KiB mark, so a msgapp stream stalled both processes in
 * turn. Each chunk is fresh memory node never reuses (chunk-ownership.test.ts).
 */
async function* responseBody(
  incoming: http.IncomingMessage,
  failure: () => RaftwireError | undefined,
  release: (complete: boolean) => void,
  target: string,
): AsyncGenerator<Uint8Array, void, undefined> {
  let complete = false;
  const ahead = new ReadAhead<Buffer>(incoming);
  let ended = false;
  let error: unknown;
  const onData = (c: Buffer): void => ahead.push(c);
  const onEnd = (): void => {
    ended = true;
    ahead.notify();
  };
  const onError = (err: unknown): void => {
    error ??= err;
    ahead.notify();
  };
  const onClose = (): void => {
    if (!ended) error ??= Object.assign(new Error('aborted'), { code: 'ECONNRESET' });
    ahead.notify();
  };
  const unlisten = listenBody(incoming, { data: onData, end: onEnd, error: onError, close: onClose });
  try {
    for (;;) {
      const c = ahead.shift();
      if (c !== undefined) {
        const f = failure();
        if (f !== undefined) throw f;
        yield plainBytes(c);
        continue;
      }
      if (error !== undefined) throw error;
      if (ended) break;
      await ahead.wait();
    }
    const f = failure();
    if (f !== undefined) throw f;
    complete = true;
  } catch (err) {
    throw failure() ?? asLinkError(`${target} response body`, err);
  } finally {
    unlisten();
    if (!complete) incoming.destroy();
    release(complete);
  }
}
