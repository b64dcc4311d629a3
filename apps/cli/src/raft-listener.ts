/**
 * The raft side of a member on whichever runtime runs the CLI: in Deno and
 * Bun the runtime's own server (`Deno.serve` / `Bun.serve`) serves
 * `createFetchHandler(transport.handler)` and peers are dialled with
 * `FetchLink` (the web fetch API); under Node, `startRaftServer` (node:http)
 * and `NodeHttpLink`. Members on different runtimes speak the same wire, so a
 * cluster may mix them.
 */
import { createFetchHandler, FetchLink, fetchServerRuntime, serveFetch } from '@raftwire/adapters/http';
import { NodeHttpLink, startRaftServer } from '@raftwire/adapters/http/node';
import type { Link, Logger, ProtocolHandler } from '@raftwire/core';

/** The runtime the CLI runs on. */
export type MemberRuntime = 'node' | 'deno' | 'bun';

export function memberRuntime(): MemberRuntime {
  return fetchServerRuntime() ?? 'node';
}

/** How a member reaches its peers and serves them. */
export interface RaftSide {
  readonly runtime: MemberRuntime;
  /** Dials peers (created before the transport, which needs it). */
  readonly link: Link & { close(): void };
  /** Starts serving `handler` on host:port; resolves with the URL once it listens. */
  listen(handler: ProtocolHandler, host: string, port: number): Promise<{ url: string; close(signal: AbortSignal): Promise<void> }>;
}

/** Mutual TLS between members: this member's certificate and key, and the CA peers chain to (PEM). */
export interface PeerTls {
  cert: string;
  key: string;
  ca: string;
}

/** Thrown when a runtime cannot serve what the command line asks for. */
export class UnsupportedOnRuntimeError extends Error {
  override readonly name = 'UnsupportedOnRuntimeError';
  readonly code = 'ERR_UNSUPPORTED_ON_RUNTIME';
}

/**
 * `tls` (mutual TLS) is served on Node only: Deno.serve cannot ask for client certificates, and
 * without them a member cannot tell its peers from anyone else; there the member needs
 * `--insecure` (and a network that only members reach).
 */
export function raftSide(logger: Logger, tls: PeerTls | null = null): RaftSide {
  const runtime = memberRuntime();
  if (runtime === 'node') {
    return {
      runtime,
      link: new NodeHttpLink({ logger, ...(tls ? { tls: { cert: tls.cert, key: tls.key, ca: tls.ca } } : {}) }),
      async listen(handler, host, port) {
        const server = await startRaftServer({
          handler,
          host,
          port,
          logger,
          ...(tls ? { tls: { cert: tls.cert, key: tls.key, ca: tls.ca, clientCertAuth: true } } : {}),
        });
        return { url: server.url, close: (signal) => server.close({ signal }) };
      },
    };
  }
  if (tls !== null) {
    throw new UnsupportedOnRuntimeError(
      `members on ${runtime} cannot authenticate peers with mutual TLS yet (${runtime}'s server does not ask for client ` +
        'certificates): run this member under Node, or pass --insecure on a network that only members reach',
    );
  }
  return {
    runtime,
    link: new FetchLink({ logger }),
    async listen(handler, host, port) {
      const raftFetch = createFetchHandler(handler, { logger });
      const server = await serveFetch(raftFetch.handle, { hostname: host, port, logger, onClose: () => raftFetch.shutdown() });
      return { url: server.url, close: (signal) => server.close({ signal }) };
    },
  };
}
