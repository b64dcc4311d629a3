/**
 * core's transport compliance suite over the WebRTC adapter, Node ↔ Node,
 * once per Node WebRTC implementation. Each endpoint is a `WebRtcLink`
 * (the suite's member ID, URL `webrtc://<hex id>`) on one in-page signalling hub;
 * `dropConnections(i)` kills endpoint i's peer connections outright (the
 * remotes learn it from their channels closing) and the next dial rebuilds.
 */
import type { ProtocolHandler } from '@raftwire/core';
import { type TransportTestEndpoint, runTransportCompliance } from '@raftwire/core/compliance';
import { beforeAll } from 'vitest';
import { InPageSignalingHub, WebRtcLink, webrtcUrl } from '../../src/webrtc/index.js';
import { nodePeerConnectionFactory } from '../../src/webrtc/node/index.js';
import { STACKS, assertLoopbackOnly } from './helpers.js';

beforeAll(assertLoopbackOnly);

for (const stack of STACKS) {
  runTransportCompliance(`webrtc-${stack}`, async (count, { clusterId, ids }) => {
    const hub = new InPageSignalingHub(clusterId);
    const links: WebRtcLink[] = [];
    const endpoints: TransportTestEndpoint[] = [];
    for (let i = 0; i < count; i++) {
      const id = ids[i] as bigint;
      const link = await WebRtcLink.create({
        localId: id,
        clusterId,
        signaling: hub,
        peerConnectionFactory: nodePeerConnectionFactory({ stack }),
        connectTimeoutMs: 10_000,
      });
      links.push(link);
      endpoints.push({
        url: webrtcUrl(id),
        link,
        serve(handler: ProtocolHandler) {
          link.setHandler(handler);
        },
      });
    }
    return {
      endpoints,
      dropConnections: (i: number) => {
        const link = links[i];
        if (link === undefined) return;
        for (const other of ids) if (other !== ids[i]) link.connection(other)?.peerConnection.close();
      },
      close: async () => {
        await Promise.all(links.map((l) => l.close()));
      },
    };
  });
}
