import { createRequire } from 'node:module';
import { requireOptional } from '../../missing-package.js';
import type { PeerConnectionFactory } from '../peer-connection-port.js';
import { type PeerConfiguration, type SimplePeerConstructor, type WrtcImplementation, simplePeerFactory } from '../simple-peer-port.js';

/** The Node WebRTC implementations the adapter supports (feasibility §3). */
export type NodeWebRtcStack = 'node-datachannel' | 'roam';

const require = createRequire(import.meta.url);

interface SessionDescriptionLike {
  type: string;
  sdp: string;
}
type PcConstructor = new (
  config?: PeerConfiguration,
) => {
  createOffer(o?: unknown): Promise<SessionDescriptionLike>;
  createAnswer(o?: unknown): Promise<SessionDescriptionLike>;
};

/**
 * node-datachannel's W3C polyfill, with the one fix simple-peer needs: its
 * `RTCSessionDescription` has a read-only `sdp`, which simple-peer assigns
 * to, so offers and answers are returned as plain `{type, sdp}` objects.
 *
 * Known: about 1 connect in 40–80 (seen over the HTTP relay, where the
 * answer comes back fast) fails at the offerer with "libdatachannel error
 * while adding remote description: Got a remote candidate without ICE
 * transport", a race inside libdatachannel; `PeerSession.connect` retries
 * such an attempt with a fresh session.
 */
function loadNodeDatachannel(): WrtcImplementation {
  const polyfill = requireOptional(
    () =>
      require('node-datachannel/polyfill') as {
        RTCPeerConnection: PcConstructor;
        RTCSessionDescription: unknown;
        RTCIceCandidate: unknown;
      },
    'node-datachannel',
    "the WebRTC stack 'node-datachannel'",
  );
  const Base = polyfill.RTCPeerConnection;
  class PlainSdpPeerConnection extends Base {
    override async createOffer(o?: unknown): Promise<SessionDescriptionLike> {
      const d = await super.createOffer(o);
      return { type: d.type, sdp: d.sdp };
    }
    override async createAnswer(o?: unknown): Promise<SessionDescriptionLike> {
      const d = await super.createAnswer(o);
      return { type: d.type, sdp: d.sdp };
    }
  }
  return {
    RTCPeerConnection: PlainSdpPeerConnection,
    RTCSessionDescription: polyfill.RTCSessionDescription,
    RTCIceCandidate: polyfill.RTCIceCandidate,
  };
}

function loadRoam(): WrtcImplementation {
  const wrtc = requireOptional(() => require('@roamhq/wrtc') as WrtcImplementation, '@roamhq/wrtc', "the WebRTC stack 'roam'");
  return {
    RTCPeerConnection: wrtc.RTCPeerConnection,
    RTCSessionDescription: wrtc.RTCSessionDescription,
    RTCIceCandidate: wrtc.RTCIceCandidate,
  };
}

/**
 * Loads one Node WebRTC implementation in the shape simple-peer's `wrtc` option takes. Both are
 * optional peer dependencies: a missing one throws ERR_MISSING_PACKAGE naming the `npm install`.
 */
export function loadNodeWrtc(stack: NodeWebRtcStack): WrtcImplementation {
  return stack === 'roam' ? loadRoam() : loadNodeDatachannel();
}

/**
 * The default peer configuration for a stack: no ICE servers, and for
 * node-datachannel `bindAddress: '127.0.0.1'` (libjuice skips loopback
 * interfaces otherwise and gathers nothing in a loopback-only namespace).
 * Deployments that must reach other hosts pass their own `config`.
 */
export function defaultNodePeerConfig(stack: NodeWebRtcStack): PeerConfiguration {
  return stack === 'node-datachannel' ? { iceServers: [], bindAddress: '127.0.0.1' } : { iceServers: [] };
}

/** simple-peer, loaded as the CommonJS module it is. Throws ERR_MISSING_PACKAGE when it is not installed. */
export function loadSimplePeerCjs(): SimplePeerConstructor {
  return requireOptional(() => require('simple-peer') as SimplePeerConstructor, 'simple-peer', 'the WebRTC adapter');
}

export interface NodePeerConnectionFactoryOptions {
  /** Default `node-datachannel` (fastest, fires `bufferedamountlow`, clean errors). */
  stack?: NodeWebRtcStack;
  /** Default {@link defaultNodePeerConfig}. */
  config?: PeerConfiguration;
  trickle?: boolean;
}

/** A peer-connection factory for Node: simple-peer over the chosen WebRTC stack. */
export function nodePeerConnectionFactory(options: NodePeerConnectionFactoryOptions = {}): PeerConnectionFactory {
  const stack = options.stack ?? 'node-datachannel';
  return simplePeerFactory({
    SimplePeer: loadSimplePeerCjs(),
    wrtc: loadNodeWrtc(stack),
    config: options.config ?? defaultNodePeerConfig(stack),
    ...(options.trickle === undefined ? {} : { trickle: options.trickle }),
  });
}
