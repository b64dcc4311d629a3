/**
 * `@raftwire/adapters/http`: the isomorphic HTTP client (fetch). Node-only
 * parts (server, node:http client) live in `@raftwire/adapters/http/node`.
 */
export { FetchLink, createFetchLink, type FetchFunction, type FetchLinkOptions, type UploadMode } from './fetch-link.js';
export { type HttpLogger, silentLogger } from './logger.js';
export { RAFT_PREFIX, RAFT_SNAPSHOT_PATH, isRaftPath } from './paths.js';
export { buildRequestUrl } from './request-url.js';
