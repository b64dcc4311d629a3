// Browser entry of the WebRTC benchmark: the same cases with the page's own WebRTC.
import { loadSimplePeer, simplePeerFactory } from '@raftwire/adapters/webrtc';
import { heartbeatRtt, rawThroughput, transportThroughput } from './_webrtc-cases.js';

const factory = async () => simplePeerFactory({ SimplePeer: await loadSimplePeer() });

Object.assign(window, {
  bench: {
    raw: async (total: number) => rawThroughput(await factory(), total),
    transport: async (total: number) => transportThroughput(await factory(), total),
    heartbeat: async (size: number) => heartbeatRtt(await factory(), size),
  },
});
