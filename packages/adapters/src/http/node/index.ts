/**
 * `@raftwire/adapters/http/node`: the Node-only parts of the HTTP adapter —
 * the raft server (node:http / node:https), a request listener to mount in an
 * existing server, and a node:http client.
 *
 * ```ts
 * const server = await startRaftServer({ handler: transport.handler, port: 2380 });
 * const link = new NodeHttpLink({ dialTimeoutMs: 1000 });   // or FetchLink from '@raftwire/adapters/http'
 * ```
 *
 * Answers the adapter writes itself (the handler never sees these requests or
 * its answer is replaced): `413 request body too large` (over `maxBodyBytes`
 * on `/raft` paths other than `/raft/snapshot`; connection closed), `408
 * request body read timeout` (slow body; connection closed), `408` for
 * headers slower than `headersTimeoutMs`, `500 internal error` (the handler
 * threw), `503 server shutting down` (during `close()`), `204`/`403` for CORS
 * preflights when `cors` is set, `404` outside `/raft` (or the `fallback`).
 */
export { NodeHttpLink, type NodeHttpLinkOptions } from './node-link.js';
export { startRaftServer, type RaftServer, type RaftServerOptions, type CloseOptions } from './raft-server.js';
export {
  createRaftRequestListener,
  peerCertificateOf,
  type RaftRequestListener,
  type RaftRequestListenerOptions,
  type RaftCorsOptions,
} from './request-listener.js';
export type { Pem, RaftClientTlsOptions, RaftServerTlsOptions } from './tls-options.js';
