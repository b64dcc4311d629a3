// The demo server's HTTP API, as the page and the server both see it. Every route of one cluster
// is under /api/sessions/<cluster ID>/ and needs the cluster's token (header `x-demo-token`, or
// `token` in the body of a sendBeacon); each cluster's signalling relay listens on its own port.
import type { MemberReport, RaftEvent, TransportTrace } from './demo-member.js';
import type { TimeState } from './demo-time.js';

/** The Node member's hex ID; the page's members are 2, 3, 4 (and 5, 6, … when added). */
export const NODE_MEMBER = '1';
/** Initial voters of every demo cluster. */
export const INITIAL_MEMBERS: readonly string[] = ['1', '2', '3', '4'];
/** Header carrying a cluster's token. */
export const TOKEN_HEADER = 'x-demo-token';

/** `POST /api/sessions`: a new cluster with its own Node member. */
export interface SessionInfo {
  clusterId: string;
  token: string;
  members: string[];
  loopbackOnly: boolean;
  /** The cluster's signalling relay (`http://127.0.0.1:<its own port>/raft-signal`). */
  relayUrl: string;
  time: TimeState;
  /** The page's members' relay credentials and private keys, and every member's public key (docs/demo.md "Trust"). */
  identity: PageIdentity;
}

/** An ECDSA P-256 key as WebCrypto exports it (JWK); private when it has `d`. */
export interface IdentityJwk {
  kty?: string;
  crv?: string;
  x?: string;
  y?: string;
  d?: string;
  ext?: boolean;
  key_ops?: string[];
}

/** What one page member needs to join the relay and sign its offers and answers. */
export interface PageMemberKeys {
  /** `signalingCredential(relayKey, cluster, member)`: the relay admits this member only with it. */
  credential: string;
  /** The member's ECDSA P-256 private key (JWK). */
  privateKey: IdentityJwk;
}

/**
 * The identities the server minted for a page's cluster, handed out only with the page's token
 * (`POST /api/sessions`, `resume`, and `keys` `{member}` for a member the page is about to add).
 */
export interface PageIdentity {
  /** By hex member ID: each page member's keys (never member 1's). */
  members: Record<string, PageMemberKeys>;
  /** By hex member ID: the public key (JWK) of every member minted so far, member 1 included. */
  publicKeys: Record<string, IdentityJwk>;
}

/** `GET /api/sessions/<id>/status`: the Node member and what happened there since the last poll. */
export interface NodeStatus {
  clusterId: string;
  member: MemberReport;
  /** Peers member 1 cuts. */
  cut: string[];
  /** Peers member 1's transport counts active. */
  active: string[];
  droppedCandidates: number;
  /** Per peer, per path member 1 picked: Date.now() of its last use. */
  paths: Record<string, Record<string, number>>;
  transportEvents: TransportTrace[];
  raftEvents: RaftEvent[];
  time: TimeState;
}

/** A refused request: HTTP status ≥ 400 with this body. */
export interface ApiError {
  error: string;
  /** `session-unknown` (the server never had it or closed it), `session-full`, `bad-token`, `bad-request`, `failed`. */
  code: string;
}

/** The command line that opens the demo in Chromium with what it needs (a fake media device: nothing is recorded). */
export function chromiumCommand(url: string): string {
  return `chromium --user-data-dir=/tmp/raftwire-demo-profile --allow-loopback-in-peer-connection --use-fake-ui-for-media-stream --use-fake-device-for-media-stream ${url}`;
}
