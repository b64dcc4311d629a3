// How every test, benchmark and e2e run here launches a browser: Debian's chromium (nothing is
// downloaded), quiet in this sandbox, and able to use WebRTC on loopback: Chromium gathers no
// loopback ICE candidates without --allow-loopback-in-peer-connection and a granted media permission.

/** Debian's Chromium. */
export const CHROMIUM_PATH = '/usr/bin/chromium';

/** Headless in a sandbox with no network but loopback: no background traffic, no QUIC, no GPU. */
export const CHROMIUM_ARGS = Object.freeze([
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
]);

/** For pages that open RTCPeerConnections on loopback: without this flag Chromium gathers no candidate. */
export const CHROMIUM_WEBRTC_ARGS = Object.freeze([...CHROMIUM_ARGS, '--allow-loopback-in-peer-connection']);

/** Context permissions WebRTC on loopback needs: without media permission Chromium gathers no candidate. */
export const CHROMIUM_WEBRTC_PERMISSIONS = Object.freeze(['camera', 'microphone']);
