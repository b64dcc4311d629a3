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

export function raftSide(logger: Logger): RaftSide {
  const runtime = memberRuntime();
  if (runtime === 'node') {
    return {
      runtime,
      link: new NodeHttpLink({ logger }),
      async listen(handler, host, port) {
        const server = await startRaftServer({ handler, host, port, logger });
        return { url: server.url, close: (signal) => server.close({ signal }) };
      },
    };
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
