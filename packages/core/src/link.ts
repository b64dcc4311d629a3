/**
 * The adapter contract: what a platform adapter (HTTP, WebRTC, memory) gives
 * the transport core, and what the core gives back to the adapter's server side.
 *
 * The wire protocol is HTTP-shaped (docs/design.md §3): a request has a method, a path
 * and headers; a response has a status, headers and a streamed body. Adapters
 * that are not HTTP (WebRTC data channels, in-memory) carry the same fields in
 * a header frame, so the core's checks and behaviours hold unchanged.
 */

import type { PeerCertificate } from './peer-auth.js';

/** Header names are lowercase. Values are single strings. */
export type LinkHeaders = Record<string, string>;

/** A body: whole bytes, or a stream of chunks (never required to be buffered whole). */
export type LinkBody = Uint8Array | AsyncIterable<Uint8Array>;

export interface LinkRequest {
  method: 'GET' | 'POST';
  /** Path on the remote, e.g. `/raft`, `/raft/stream/msgapp/1`, `/raft/snapshot`. */
  path: string;
  headers: LinkHeaders;
  body?: LinkBody;
  /**
   * The exact byte length of a streamed `body`, when the sender knows it (a snapshot: envelope +
   * declared size). A link that can use it frames the body with Content-Length instead of chunked
   * transfer; one that cannot ignores it. The caller must send exactly this many bytes (or fail
   * the body).
   */
  length?: number;
  /** Aborting cancels the request and ends the response body with an ERR_ABORTED error. */
  signal?: AbortSignal;
}

export interface LinkResponse {
  status: number;
  headers: LinkHeaders;
  /**
   * The response body as it arrives. Iterate it to the end, or break out of the
   * loop (which closes the underlying request). Errors surface as RaftwireError
   * (ERR_LINK, ERR_ABORTED).
   */
  body: AsyncIterable<Uint8Array>;
}

/** Client side of an adapter. `url` is one of the remote's advertised peer URLs. */
export interface Link {
  /**
   * A one-shot request (pipeline POST `/raft`, snapshot POST `/raft/snapshot`,
   * GET `/raft/probing`). Resolves when the response head arrives; rejects with
   * ERR_LINK when the remote cannot be reached, ERR_ABORTED on abort.
   */
  request(url: string, req: LinkRequest): Promise<LinkResponse>;
  /**
   * Opens a long-lived stream (GET `/raft/stream/{type}/{from}`). Resolves with
   * the status and headers; on 200 the body yields stream bytes until either
   * side closes. Adapters must not apply a total-body timeout to streams.
   */
  openStream(url: string, req: LinkRequest): Promise<LinkResponse>;
  /** Releases pooled connections. Requests in flight are aborted. */
  close?(): Promise<void> | void;
}

/** An incoming request as the core's protocol handler sees it. */
export interface HandlerRequest {
  method: string;
  path: string;
  headers: LinkHeaders;
  /** The request body as it arrives; may be empty. */
  body: AsyncIterable<Uint8Array>;
  /** Where the request came from, for logs and metric labels (e.g. `127.0.0.1:51234`). */
  remoteAddress?: string;
  /**
   * The client certificate the TLS layer verified (chained to the trusted CA), when the
   * requester presented one. Set by adapters that can see it (node:https); see PeerAuthenticator.
   */
  peerCertificate?: PeerCertificate;
  /** Aborted when the requester goes away or the server shuts down. */
  signal: AbortSignal;
}

/**
 * The handler's answer. For a stream (status 200 on `/raft/stream/...`) the
 * body is an endless async iterable of frames: the adapter writes each chunk
 * as it comes (flushing it), and stops iterating (calling `return()`) when
 * the requester goes away.
 */
export interface HandlerResponse {
  status: number;
  headers: LinkHeaders;
  body?: LinkBody;
}

/**
 * The server side of the protocol, shared by every adapter. It answers every path under `/raft`
 * and the paths in `extraPaths` (a wire profile's peer endpoints outside `/raft`, such as the
 * etcd profile's `/version` and `/members`); adapters route by `handlesPath` (serve.ts).
 */
export type ProtocolHandler = ((req: HandlerRequest) => Promise<HandlerResponse>) & {
  readonly extraPaths?: readonly string[];
};
