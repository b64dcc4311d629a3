/**
 * `@raftwire/adapters/http/node`: the Node-only parts of the HTTP adapter —
 * the raft server (node:http / node:https), a request listener to mount in an
 * existing server, and a node:http client.
 */
export { NodeHttpLink, createNodeHttpLink, type NodeHttpLinkOptions } from './node-link.js';
export { startRaftServer, type RaftServer, type RaftServerOptions, type CloseOptions } from './raft-server.js';
export {
  createRaftRequestListener,
  type RaftRequestListener,
  type RaftRequestListenerOptions,
  type RaftCorsOptions,
} from './request-listener.js';
export { RequestBody, type RequestBodyState, type RequestBodyLimits } from './request-body.js';
export type { Pem, RaftClientTlsOptions, RaftServerTlsOptions } from './tls-options.js';
