import { ErrorCode, type Id, isId, RaftwireError } from '@raftwire/core';
import {
  loadSimplePeer,
  type PeerConnectionFactory,
  type Signaling,
  type WebRtcIdentity,
  simplePeerFactory,
  WebRtcLink,
  type WebRtcLinkOptions,
  webrtcUrl,
} from '@raftwire/adapters/webrtc';
import type { KvStateMachine, StateMachine, WritableStorage } from '@raftwire/raft';
import { DEFAULT_CLUSTER_ID, type MemberBaseOptions, type MemberStateMachineOption, type RaftMember } from '../member-options.js';
import { invalid, memberLogger, otherPeers, wireMember } from '../wire-member.js';

const CALLER = 'createWebRtcMember';

export type WebRtcMemberOptions<SM extends StateMachine = KvStateMachine> = MemberBaseOptions<SM> &
  MemberStateMachineOption<SM> & {
    /**
     * This member's identity key (ECDSA P-256, `generateIdentityKeyPair()`) and every peer's public
     * key. Each offer and answer is signed over its DTLS fingerprint and checked on arrival, so
     * the signalling service cannot put itself in the middle (docs/webrtc.md "Security"). Join
     * an `HttpRelaySignaling` relay with its `credential`. Required unless `insecure: true`.
     */
    identity?: WebRtcIdentity;
    /** Run without member authentication (the signalling service is then trusted). Exclusive with `identity`. */
    insecure?: boolean;
    /** The member IDs of the initial cluster (this member's own may be included). Each is reached at `webrtc://<hex id>`. */
    peers: readonly Id[];
    /** How offers, answers and candidates travel: `HttpRelaySignaling` to a Node member's relay, `InPageSignalingHub` in one page. */
    signaling: Signaling;
    /**
     * Makes RTCPeerConnections. Default: the runtime's own WebRTC (browsers) through simple-peer
     * (`npm install simple-peer`). Node has none: pass `nodePeerConnectionFactory()` from
     * `@raftwire/adapters/webrtc/node` (`npm install simple-peer node-datachannel`).
     */
    peerConnectionFactory?: PeerConnectionFactory;
    /** The log: `new MemoryStorage()`, or any `WritableStorage`. */
    storage: WritableStorage;
    /** Link tuning (see `WebRtcLinkOptions`). */
    link?: Omit<WebRtcLinkOptions, 'localId' | 'clusterId' | 'signaling' | 'peerConnectionFactory' | 'handler' | 'logger'>;
  };

/** The runtime's WebRTC through simple-peer, or a typed error saying what to pass instead. */
async function defaultFactory(): Promise<PeerConnectionFactory> {
  if (typeof (globalThis as { RTCPeerConnection?: unknown }).RTCPeerConnection !== 'function') {
    throw new RaftwireError(
      ErrorCode.INVALID_ARGUMENT,
      `${CALLER}: this runtime has no WebRTC of its own: pass peerConnectionFactory (in Node: nodePeerConnectionFactory() from @raftwire/adapters/webrtc/node, after npm install simple-peer node-datachannel)`,
    );
  }
  return simplePeerFactory({ SimplePeer: await loadSimplePeer() });
}

/**
 * One call per member over WebRTC data channels, in a browser or in Node: joins `signaling`,
 * connects to peers on first use (lower ID offers), and runs a RaftNode over a core Transport,
 * wired as every member must be (see `wireMember`).
 *
 * ```ts
 * const keys = await generateIdentityKeyPair(); // one per member; share the public halves
 * const member = await createWebRtcMember({ id: 1n, peers: [1n, 2n, 3n],
 *   signaling: new HttpRelaySignaling({ baseUrl, credential }),
 *   identity: { privateKey: keys.privateKey, publicKeys: new Map([[2n, pub2], [3n, pub3]]) },
 *   storage: new MemoryStorage() });
 * ```
 */
export async function createWebRtcMember<SM extends StateMachine = KvStateMachine>(
  options: WebRtcMemberOptions<SM>,
): Promise<RaftMember<SM>> {
  const o = options;
  if (o === null || typeof o !== 'object') invalid(CALLER, 'options must be an object');
  const insecure = (o as { insecure?: unknown }).insecure === true;
  if (!insecure && o.identity === undefined) {
    invalid(
      CALLER,
      'pass identity ({ privateKey, publicKeys }: offers are then signed over their DTLS fingerprint), or insecure: true to run without authentication',
    );
  }
  if (insecure && o.identity !== undefined) invalid(CALLER, 'identity and insecure: true exclude each other');
  if (o.identity !== undefined && (typeof o.identity.privateKey !== 'object' || !(o.identity.publicKeys instanceof Map)))
    invalid(CALLER, 'identity needs privateKey (a CryptoKey) and publicKeys (a Map from member ID to CryptoKey)');
  if (!isId(o.id) || o.id === 0n) invalid(CALLER, 'id must be a non-zero member ID (a bigint)');
  if (o.storage === undefined) invalid(CALLER, 'pass storage (e.g. new MemoryStorage())');
  if (o.signaling === undefined || typeof o.signaling.join !== 'function')
    invalid(CALLER, 'pass signaling (HttpRelaySignaling, InPageSignalingHub, ...)');
  if (!Array.isArray(o.peers)) invalid(CALLER, 'peers must be an array of member IDs');
  o.signal?.throwIfAborted();
  const url = webrtcUrl(o.id);
  const peers = otherPeers(
    CALLER,
    o.id,
    url,
    o.peers.map((id) => {
      if (!isId(id) || id === 0n) invalid(CALLER, `peers: ${String(id)} is not a non-zero member ID (a bigint)`);
      return { id, url: webrtcUrl(id) };
    }),
    (u) => u,
  );
  if (o.join === true && peers.length === 0) invalid(CALLER, 'join needs at least one peer to contact');
  for (const p of peers) {
    if (o.identity !== undefined && !o.identity.publicKeys.has(p.id)) invalid(CALLER, `identity.publicKeys has no key for peer ${p.url}`);
  }
  const logger = memberLogger(o.logger);
  const factory = o.peerConnectionFactory ?? (await defaultFactory());
  const link = await WebRtcLink.create({
    ...o.link,
    localId: o.id,
    clusterId: o.clusterId ?? DEFAULT_CLUSTER_ID,
    signaling: o.signaling,
    peerConnectionFactory: factory,
    ...(o.identity === undefined ? {} : { identity: o.identity }),
    logger,
    ...(o.signal === undefined ? {} : { signal: o.signal }),
  });
  try {
    return await wireMember<SM>({
      options: o,
      caller: CALLER,
      url,
      peers,
      link,
      storage: o.storage,
      logger,
      serve: (h) => link.setHandler(h),
      release: () => link.close(),
    });
  } catch (err) {
    await link.close();
    throw err;
  }
}
