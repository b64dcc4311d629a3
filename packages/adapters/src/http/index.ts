/**
 * `@raftwire/adapters/http`: the isomorphic HTTP adapter — the fetch client
 * ({@link FetchLink}) and the fetch-API server side ({@link createFetchHandler}),
 * for Node, Deno, Bun, workerd and browsers alike. Node-only parts (the
 * node:http server, the node:http client) live in `@raftwire/adapters/http/node`.
 * Paths, header names and answer texts of the protocol come from
 * `@raftwire/core` (`RaftPath`, `Header`, `ErrorText`).
 */
export { FetchLink, type FetchFunction, type FetchLinkOptions, type UploadMode } from './fetch-link.js';
export { createFetchHandler, type FetchHandlerOptions, type FetchRequestInfo, type RaftFetchHandler } from './fetch-handler.js';
export { type FetchServer, type FetchServerOptions, type ServableFetchHandler, fetchServerRuntime, serveFetch } from './serve-fetch.js';
export type { RaftCorsOptions, RaftHttpServeOptions } from './serve-http.js';
