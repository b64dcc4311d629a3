// How every test, benchmark and e2e run here launches a browser: Debian's chromium (nothing is
// downloaded), quiet in this sandbox, and able to use WebRTC on loopback: Chromium gathers no
// loopback ICE candidates without --allow-loopback-in-peer-connection and a granted media permission.

import { existsSync } from 'node:fs';

/** Debian's Chromium. */
export const CHROMIUM_PATH = '/usr/bin/chromium';

/**
 * Throws, saying what to install, when Debian's chromium is missing. A browser test calls it
 * first (in its beforeAll) and fails: it never skips.
 */
export function requireChromium() {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(`chromium not found at ${CHROMIUM_PATH}: install Debian's chromium (apt-get install chromium)`);
  }
}

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
