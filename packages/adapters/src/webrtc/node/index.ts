/**
 * `@raftwire/adapters/webrtc/node`: the WebRTC adapter's Node-only parts —
 * WebRTC implementations to inject (@roamhq/wrtc, node-datachannel) and the
 * HTTP signalling relay a Node member serves for browser members.
 */
export {
  type NodePeerConnectionFactoryOptions,
  type NodeWebRtcStack,
  defaultNodePeerConfig,
  loadNodeWrtc,
  loadSimplePeerCjs,
  nodePeerConnectionFactory,
} from './node-webrtc-stacks.js';
export { type SignalingRelay, type SignalingRelayOptions, createSignalingRelay } from './http-relay-server.js';
