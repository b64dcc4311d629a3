/**
 * Mounts a `ProtocolHandler` on `node:http` requests under `/raft` (and the few paths outside it
 * that the handler's wire profile serves, such as etcd's `/version` and `/members`).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { TLSSocket } from 'node:tls';
import {
  ErrorCode,
  ErrorText,
  type HandlerResponse,
  type LinkHeaders,
  type PeerCertificate,
  type ProtocolHandler,
  RaftwireError,
  handlesPath,
  pathOf,
  silentLogger,
} from '@raftwire/core';
import { BoundedRequestBody } from '../bounded-body.js';
import {
  InFlightRequests,
  type RaftCorsOptions,
  type RaftHttpServeOptions,
  answerRaftRequest,
  bodyLimitsFor,
  corsPolicy,
} from '../serve-http.js';
import { linkHeaders } from './link-headers.js';
import { writeHandlerResponse, writeText } from './write-response.js';

/** Options of {@link createRaftRequestListener}: those of every raft HTTP server side. */
export type RaftRequestListenerOptions = RaftHttpServeOptions;

export type { RaftCorsOptions };

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

function remoteAddressOf(req: IncomingMessage): string | undefined {
  const { remoteAddress, remotePort } = req.socket;
  if (remoteAddress === undefined) return undefined;
  const host = remoteAddress.includes(':') ? `[${remoteAddress}]` : remoteAddress;
  return remotePort === undefined ? host : `${host}:${remotePort}`;
}

/**
 * The client certificate the TLS layer verified (it chains to the server's CA), as core's
 * `PeerCertificate`: its CN and its URI subject alternative names. Undefined on plain http, without
 * a client certificate, or when it was not verified.
 */
export function peerCertificateOf(req: IncomingMessage): PeerCertificate | undefined {
  const socket = req.socket;
  if (!(socket instanceof TLSSocket) || !socket.authorized) return undefined;
  const cert = socket.getPeerCertificate();
  if (cert === null || typeof cert !== 'object' || Object.keys(cert).length === 0) return undefined;
  const cn = cert.subject?.CN;
  const commonName = Array.isArray(cn) ? undefined : cn; // several CNs name nothing
  const uris: string[] = [];
  // `subjectaltname` is "DNS:a, IP Address:127.0.0.1, URI:urn:raftwire:member:1"; values with
  // commas or quotes come JSON-quoted (Node >= 17.3), which no member URI needs.
  for (const part of (cert.subjectaltname ?? '').split(', ')) {
    if (part.startsWith('URI:')) uris.push(part.slice(4));
  }
  return commonName === undefined ? { uris } : { commonName, uris };
}

/**
 * Creates a request listener that hands `/raft` requests to `handler`: see
 * {@link RaftRequestListener}. Mount it first in an existing server:
 * `server.on('request', (req, res) => { if (!raft(req, res)) app(req, res); })`.
 */
export function createRaftRequestListener(handler: ProtocolHandler, options: RaftRequestListenerOptions = {}): RaftRequestListener {
  const log = options.logger ?? silentLogger;
  const base = options.responseHeaders ?? {};
  const inFlight = new InFlightRequests();
  const cors = corsPolicy(options);

  const serve = async (
    req: IncomingMessage,
    res: ServerResponse,
    path: string,
    ctl: AbortController,
    corsExtra: LinkHeaders,
  ): Promise<void> => {
    const headers = linkHeaders(req.headers);
    const body = new BoundedRequestBody(req, bodyLimitsFor(path, options));
    const gone = (): boolean => res.destroyed || (ctl.signal.aborted && !inFlight.isShutdown(ctl.signal));
    const remoteAddress = remoteAddressOf(req);
    const peerCertificate = peerCertificateOf(req);
    const response = await answerRaftRequest(
      handler,
      {
        method: req.method ?? 'GET',
        path,
        headers,
        body,
        signal: ctl.signal,
        declaredLength: Number(headers['content-length'] ?? '0'),
        gone,
        ...(remoteAddress !== undefined ? { remoteAddress } : {}),
        ...(peerCertificate !== undefined ? { peerCertificate } : {}),
      },
      options,
    );
    if (response === undefined) return; // the requester is gone; the answer was closed unread
    // A body left unread (or refused) must not be drained at the cost of the connection: close it instead.
    const extra: LinkHeaders = !req.complete || inFlight.closing ? { ...corsExtra, connection: 'close' } : corsExtra;
    const outcome = await writeHandlerResponse(res, response, extra, ctl.signal);
    if (outcome === 'stopped' && !res.writableEnded && !res.destroyed) res.end();
    if (extra['connection'] === 'close' && !req.complete) {
      res.once('finish', () => req.socket.destroySoon());
    }
  };

  const listener = ((req: IncomingMessage, res: ServerResponse): boolean => {
    const path = pathOf(req.url ?? '/');
    if (!handlesPath(handler, path)) return false;
    const ctl = inFlight.begin();
    res.once('close', () => {
      if (!res.writableFinished) ctl.abort(new RaftwireError(ErrorCode.LINK, 'requester went away'));
      inFlight.finished(ctl);
    });
    req.socket.setNoDelay(true);
    if (inFlight.closing) {
      writeText(res, 503, ErrorText.shuttingDown, { ...base, connection: 'close' });
      return true;
    }
    const preflight = cors.preflight(req.method ?? 'GET', linkHeaders(req.headers));
    if (preflight !== undefined) {
      // A CORS preflight: answered here, never seen by the protocol handler.
      writePlain(res, preflight);
      return true;
    }
    serve(req, res, path, ctl, cors.headersFor(req.headers.origin) ?? {}).catch((err: unknown) => {
      log.error({ err, path }, 'raft response failed');
      res.destroy();
    });
    return true;
  }) as RaftRequestListener;

  Object.defineProperty(listener, 'activeRequests', { get: () => inFlight.size });
  listener.shutdown = () => inFlight.shutdown();
  listener.idle = () => inFlight.idle();
  return listener;
}

/** Writes an answer whose body is whole bytes (or none). */
function writePlain(res: ServerResponse, r: HandlerResponse): void {
  const bytes = r.body instanceof Uint8Array ? r.body : undefined;
  res.writeHead(r.status, bytes ? { ...r.headers, 'content-length': String(bytes.byteLength) } : r.headers);
  res.end(bytes);
}
