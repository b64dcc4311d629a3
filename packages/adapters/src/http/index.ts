/**
 * `@raftwire/adapters/http`: the isomorphic HTTP client (fetch). Node-only
 * parts (server, node:http client) live in `@raftwire/adapters/http/node`.
 * Paths, header names and answer texts of the protocol come from
 * `@raftwire/core` (`RaftPath`, `Header`, `ErrorText`).
 */
export { FetchLink, type FetchFunction, type FetchLinkOptions, type UploadMode } from './fetch-link.js';
