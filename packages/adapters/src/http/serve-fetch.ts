/**
 * Starts a server for a fetch handler on the runtime's own server API:
 * `Deno.serve` in Deno, `Bun.serve` in Bun. (Node has no fetch-API server:
 * there use `startRaftServer` from `@raftwire/adapters/http/node`; a Worker
 * exports the handler as its `fetch` and the platform serves it.)
 * Isomorphic: the runtimes' globals are looked up, never imported.
 */
import { ErrorCode, type Logger, RaftwireError, onAbort, silentLogger } from '@raftwire/core';
import type { FetchRequestInfo } from './fetch-handler.js';

/** A fetch handler that may take what the server knows about the requester (a `RaftFetchHandler.handle`, a router's `fetch`). */
export type ServableFetchHandler = (request: Request, info: FetchRequestInfo) => Response | Promise<Response>;

export interface FetchServerOptions {
  /** Address to listen on (default `127.0.0.1`). */
  hostname?: string;
  /** Port (default 0: an ephemeral port; read it from `FetchServer.port`). */
  port?: number;
  /**
   * Bun closes a connection idle for this many seconds (default 30; Bun's own
   * default is 10, which a quiet stream between heartbeats can come close to).
   * Deno has no such setting.
   */
  idleTimeoutSeconds?: number;
  /** Called before the server stops, e.g. `raftFetch.shutdown` so response streams end and the server can drain. */
  onClose?: () => void;
  logger?: Logger;
}

/** A running fetch server. */
export interface FetchServer {
  /** The base URL, e.g. `http://127.0.0.1:40123`. */
  readonly url: string;
  readonly hostname: string;
  readonly port: number;
  readonly runtime: 'deno' | 'bun';
  /**
   * Stops listening and resolves once the server has stopped. Requests in
   * flight are waited for (call `onClose` to end streams first); aborting
   * `signal` closes every connection at once (Bun) or stops waiting (Deno).
   */
  close(options?: { signal?: AbortSignal }): Promise<void>;
}

interface DenoAddr {
  hostname: string;
  port: number;
}
interface DenoServeInfo {
  remoteAddr?: { hostname: string; port: number };
}
interface DenoHttpServer {
  readonly addr: DenoAddr;
  shutdown(): Promise<void>;
  readonly finished: Promise<void>;
}
interface DenoGlobal {
  serve(
    options: { hostname: string; port: number; onListen?: (addr: DenoAddr) => void; signal?: AbortSignal },
    handler: (request: Request, info: DenoServeInfo) => Response | Promise<Response>,
  ): DenoHttpServer;
}
interface BunServer {
  readonly port: number;
  readonly hostname: string;
  requestIP(request: Request): { address: string; port: number } | null;
  stop(closeActiveConnections?: boolean): Promise<void> | void;
}
interface BunGlobal {
  serve(options: {
    hostname: string;
    port: number;
    idleTimeout?: number;
    fetch: (request: Request, server: BunServer) => Response | Promise<Response>;
    error?: (err: Error) => Response;
  }): BunServer;
}

/** The runtime this code runs on, as far as serving goes. */
export function fetchServerRuntime(): 'deno' | 'bun' | undefined {
  const g = globalThis as { Deno?: unknown; Bun?: unknown };
  if (typeof (g.Deno as DenoGlobal | undefined)?.serve === 'function') return 'deno';
  if (typeof (g.Bun as BunGlobal | undefined)?.serve === 'function') return 'bun';
  return undefined;
}

function address(host: string, port: number): string {
  const h = host.includes(':') ? `[${host}]` : host;
  return `${h}:${port}`;
}

/**
 * Serves `handler` with `Deno.serve` or `Bun.serve`, whichever this runtime
 * has, and resolves once it listens. Fails with ERR_LINK when the address
 * cannot be bound, and with ERR_INVALID_ARGUMENT on a runtime that has
 * neither (Node: use `startRaftServer`).
 */
export async function serveFetch(handler: ServableFetchHandler, options: FetchServerOptions = {}): Promise<FetchServer> {
  const hostname = options.hostname ?? '127.0.0.1';
  const wanted = options.port ?? 0;
  const log = options.logger ?? silentLogger;
  const runtime = fetchServerRuntime();
  const cannotListen = (err: unknown): RaftwireError =>
    new RaftwireError(ErrorCode.LINK, `cannot listen on ${address(hostname, wanted)}`, { cause: err });
  const internal = (err: unknown): Response => {
    log.error({ err }, 'fetch server handler failed');
    return new Response('internal error\n', { status: 500 });
  };

  if (runtime === 'deno') {
    const deno = (globalThis as unknown as { Deno: DenoGlobal }).Deno;
    const stop = new AbortController();
    let server: DenoHttpServer;
    const listening = new Promise<DenoAddr>((resolve, reject) => {
      try {
        server = deno.serve({ hostname, port: wanted, signal: stop.signal, onListen: resolve }, async (request, info) => {
          const remote = info.remoteAddr;
          // Not request.signal: in Deno it also aborts after every successful response (and warns
          // once read). A requester that leaves mid-stream cancels the response stream instead.
          const signal = new AbortController().signal;
          try {
            return await handler(request, remote ? { remoteAddress: address(remote.hostname, remote.port), signal } : { signal });
          } catch (err) {
            return internal(err);
          }
        });
      } catch (err) {
        reject(cannotListen(err));
      }
    });
    const addr = await listening;
    let closing: Promise<void> | undefined;
    return {
      url: `http://${address(hostname, addr.port)}`,
      hostname,
      port: addr.port,
      runtime,
      close(closeOptions = {}) {
        closing ??= (async () => {
          options.onClose?.();
          const done = server.shutdown();
          await new Promise<void>((resolve) => {
            const dispose = onAbort(closeOptions.signal, () => {
              stop.abort();
              resolve();
            });
            done.then(
              () => {
                dispose();
                resolve();
              },
              () => resolve(),
            );
          });
        })();
        return closing;
      },
    };
  }

  if (runtime === 'bun') {
    const bun = (globalThis as unknown as { Bun: BunGlobal }).Bun;
    let server: BunServer;
    try {
      server = bun.serve({
        hostname,
        port: wanted,
        idleTimeout: options.idleTimeoutSeconds ?? 30,
        fetch: async (request, srv) => {
          const remote = srv.requestIP(request);
          try {
            return await handler(request, remote ? { remoteAddress: address(remote.address, remote.port) } : {});
          } catch (err) {
            return internal(err);
          }
        },
        error: internal,
      });
    } catch (err) {
      throw cannotListen(err);
    }
    let closing: Promise<void> | undefined;
    return {
      url: `http://${address(hostname, server.port)}`,
      hostname,
      port: server.port,
      runtime,
      close(closeOptions = {}) {
        closing ??= (async () => {
          options.onClose?.();
          const dispose = onAbort(closeOptions.signal, () => void server.stop(true));
          await server.stop(false);
          dispose();
        })();
        return closing;
      },
    };
  }

  throw new RaftwireError(
    ErrorCode.INVALID_ARGUMENT,
    'serveFetch needs Deno.serve or Bun.serve; in Node use startRaftServer from @raftwire/adapters/http/node',
  );
}
