/**
 * `@raftwire/adapters/webrtc`: the WebRTC form of the raftwire link
 * (docs/design.md §5). Isomorphic: in a browser it uses the page's WebRTC globals;
 * Node injects an implementation from `@raftwire/adapters/webrtc/node`.
 */
export { WebRtcLink, type WebRtcLinkOptions, type WebRtcLinkEvent, WEBRTC_URL_SCHEME, parseWebrtcUrl, webrtcUrl } from './webrtc-link.js';
export type { PeerLinkConnection, ConnectionState } from './peer-link-connection.js';
export type {
  DataChannelPort,
  PeerConnectionFactory,
  PeerConnectionInit,
  PeerConnectionPort,
  PeerSignalData,
} from './peer-connection-port.js';
export {
  type PeerConfiguration,
  type SimplePeerConstructor,
  type SimplePeerFactoryOptions,
  type SimplePeerInstance,
  type WrtcImplementation,
  loadSimplePeer,
  simplePeerFactory,
} from './simple-peer-port.js';
export {
  type SignalClaimContext,
  type SignalKind,
  type SignalMessage,
  type Signaling,
  type SignalingEndpoint,
  type SignalingJoinOptions,
  MAX_SIGNAL_BYTES,
  checkSignalClaim,
  parseSignalJson,
  parseSignalMessage,
} from './signaling.js';
export {
  type SignalAuth,
  type SignedSdpFields,
  type WebRtcIdentity,
  NonceCache,
  SIGNAL_AUTH_MAX_SKEW_MS,
  credentialVerifier,
  exportIdentityKey,
  generateIdentityKeyPair,
  generateRelayKey,
  importIdentityKey,
  sdpFingerprints,
  signSdp,
  signalingCredential,
  verifySdp,
} from './identity.js';
export { InPageSignalingHub } from './in-page-signaling.js';
export { DEFAULT_RELAY_PREFIX, HttpRelaySignaling, type HttpRelaySignalingOptions } from './http-relay-signaling.js';
export { CHANNELS, type ChannelLabel } from './channels.js';
export { DEFAULT_HIGH_WATER_MARK, DEFAULT_LOW_WATER_MARK, type SendPacerOptions } from './send-pacer.js';
export { BULK_WINDOW_BYTES, DEFAULT_MAX_MESSAGE_BYTES, MAX_SEND_MESSAGE_BYTES, WINDOW_BYTES } from './channel-mux.js';
export { MAX_WIRE_FRAME_BYTES } from './mux-frame.js';
