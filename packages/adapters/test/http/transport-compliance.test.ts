/**
 * core's transport compliance suite over the HTTP adapter on 127.0.0.1, with
 * both clients (node:http and fetch). Each endpoint is a raft server on an
 * ephemeral port whose handler is installed by the suite; dropConnections
 * closes every connection the server holds (httptest's CloseClientConnections).
 */
import type { HandlerResponse, ProtocolHandler } from '@raftwire/core';
import { type TransportTestEndpoint, runTransportCompliance } from '@raftwire/core/compliance';
import { FetchLink } from '../../src/http/fetch-link.js';
import { NodeHttpLink } from '../../src/http/node/node-link.js';
import { type RaftServer, startRaftServer } from '../../src/http/node/raft-server.js';

for (const kind of ['node', 'fetch'] as const) {
  runTransportCompliance(`http-${kind}`, async (count) => {
    const servers: RaftServer[] = [];
    const links: (NodeHttpLink | FetchLink)[] = [];
    const endpoints: TransportTestEndpoint[] = [];
    for (let i = 0; i < count; i++) {
      let h: ProtocolHandler | undefined;
      const server = await startRaftServer({
        handler: (req) => (h ? h(req) : Promise.resolve<HandlerResponse>({ status: 503, headers: {} })),
        host: '127.0.0.1',
        port: 0,
      });
      const link = kind === 'node' ? new NodeHttpLink({ dialTimeoutMs: 1000 }) : new FetchLink({});
      servers.push(server);
      links.push(link);
      endpoints.push({
        url: server.url,
        link,
        serve(handler: ProtocolHandler) {
          h = handler;
        },
      });
    }
    return {
      endpoints,
      dropConnections: (i: number) => {
        servers[i]?.server.closeAllConnections();
      },
      close: async () => {
        for (const l of links) await l.close?.();
        await Promise.all(servers.map((s) => s.close({ signal: AbortSignal.timeout(2000) })));
      },
    };
  });
}
