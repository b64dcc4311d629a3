/**
 * A node:http(s) server that serves a `ProtocolHandler` under `/raft`.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { ErrorCode, ErrorText, type Logger, type ProtocolHandler, RaftwireError, onAbort, silentLogger } from '@raftwire/core';
import { type RaftRequestListener, type RaftRequestListenerOptions, createRaftRequestListener } from './request-listener.js';
import { type RaftServerTlsOptions, pemInput, pemList } from './tls-options.js';
import { writeText } from './write-response.js';

export interface RaftServerOptions extends RaftRequestListenerOptions {
  /** The protocol's server side (the transport's `handler`). */
  handler: ProtocolHandler;
  /** Address to listen on (default `127.0.0.1`). */
  host?: string;
  /** Port (default 0: an ephemeral port; read it from `RaftServer.port`). */
  port?: number;
  /** Serve https (and optionally require client certificates). */
  tls?: RaftServerTlsOptions;
  /** Idle keep-alive connections are closed after this many ms (default 30000). */
  keepAliveTimeoutMs?: number;
  /** Request line and headers must arrive within this many ms (default 10000). */
  headersTimeoutMs?: number;
  /** Requests outside `/raft` (default: 404). */
  fallback?: (req: http.IncomingMessage, res: http.ServerResponse) => void;
  logger?: Logger;
}

export interface CloseOptions {
  /**
   * Aborting it stops waiting for requests in flight to finish: every
   * connection is destroyed at once.
   */
  signal?: AbortSignal;
}

/** A running raft server. */
export interface RaftServer {
  /** The base peer URL, e.g. `http://127.0.0.1:40123`. */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  /** The underlying server, for inspection (do not close it directly). */
  readonly server: http.Server | https.Server;
  readonly listener: RaftRequestListener;
  /**
   * Stops listening, aborts every handler's signal, ends response streams
   * (cleanly, so readers see the end), waits for requests in flight, closes
   * idle keep-alive connections, and resolves when every connection is closed.
   */
  close(options?: CloseOptions): Promise<void>;
}

function notFound(_req: http.IncomingMessage, res: http.ServerResponse): void {
  writeText(res, 404, ErrorText.notFound);
}

/** Starts a raft server and resolves once it is listening. */
export async function startRaftServer(options: RaftServerOptions): Promise<RaftServer> {
  const log = options.logger ?? silentLogger;
  const listener = createRaftRequestListener(options.handler, options);
  const fallback = options.fallback ?? notFound;
  // Requests in progress per connection, so close() can destroy the idle ones, including
  // connections that never carried a request (closeIdleConnections() leaves those open).
  const sockets = new Map<Socket, number>();
  let closing: Promise<void> | undefined;
  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const socket = req.socket;
    sockets.set(socket, (sockets.get(socket) ?? 0) + 1);
    res.once('close', () => {
      const n = (sockets.get(socket) ?? 1) - 1;
      if (!sockets.has(socket)) return;
      sockets.set(socket, n);
      if (n === 0 && closing !== undefined) socket.destroySoon();
    });
    if (!listener(req, res)) fallback(req, res);
  };
  const common: http.ServerOptions = {
    keepAlive: true,
    noDelay: true,
    keepAliveTimeout: options.keepAliveTimeoutMs ?? 30_000,
    headersTimeout: options.headersTimeoutMs ?? 10_000,
    // Whole-request deadline off: snapshot uploads may be long; the body read timeout guards slow clients.
    requestTimeout: 0,
    // How often Node checks the headers deadline (its default, 30 s, would let slow headers linger).
    connectionsCheckingInterval: Math.min(1000, options.headersTimeoutMs ?? 10_000),
  };
  const tls = options.tls;
  const server: http.Server | https.Server =
    tls === undefined
      ? http.createServer(common, onRequest)
      : https.createServer(
          {
            ...common,
            key: pemInput(tls.key),
            cert: pemInput(tls.cert),
            ...(tls.ca !== undefined ? { ca: pemList(tls.ca) } : {}),
            requestCert: tls.clientCertAuth === true,
            rejectUnauthorized: tls.clientCertAuth === true,
            handshakeTimeout: tls.handshakeTimeoutMs ?? 10_000,
            ...(tls.minVersion !== undefined ? { minVersion: tls.minVersion } : {}),
          },
          onRequest,
        );
  server.keepAliveTimeout = common.keepAliveTimeout ?? 30_000;
  server.on('clientError', (err, socket) => {
    log.debug({ err }, 'raft server client error');
    const code = (err as { code?: unknown }).code;
    const status =
      code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? '408 Request Timeout'
        : code === 'HPE_HEADER_OVERFLOW'
          ? '431 Request Header Fields Too Large'
          : '400 Bad Request';
    if (socket.writable && !socket.destroyed) socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    else socket.destroy();
  });
  server.on(tls === undefined ? 'connection' : 'secureConnection', (socket: Socket) => {
    sockets.set(socket, 0);
    socket.once('close', () => sockets.delete(socket));
  });
  server.on('tlsClientError', (err) => log.debug({ err }, 'raft server TLS handshake failed'));

  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void =>
      reject(new RaftwireError(ErrorCode.LINK, `cannot listen on ${host}:${options.port ?? 0}`, { cause: err }));
    server.once('error', onError);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const scheme = tls === undefined ? 'http' : 'https';
  const url = `${scheme}://${host.includes(':') ? `[${host}]` : host}:${port}`;
  log.debug({ url }, 'raft server listening');

  const close = (closeOptions: CloseOptions = {}): Promise<void> => {
    closing ??= (async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      const disposeForce = onAbort(closeOptions.signal, () => server.closeAllConnections());
      listener.shutdown();
      const destroyIdle = (): void => {
        for (const [socket, busy] of sockets) if (busy === 0) socket.destroySoon();
      };
      destroyIdle();
      await Promise.race([listener.idle(), closed]);
      destroyIdle();
      await closed;
      disposeForce();
      log.debug({ url }, 'raft server closed');
    })();
    return closing;
  };

  return { url, host, port, server, listener, close };
}
