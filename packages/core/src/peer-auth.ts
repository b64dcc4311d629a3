import { type Id, formatId, tryParseId } from './ids.js';
import type { HandlerRequest } from './link.js';

/**
 * What the TLS layer verified about the requester, when it presented a client certificate
 * that chains to the trusted CA. Adapters fill it in (`HandlerRequest.peerCertificate`); core
 * never reads a socket. Only the fields identity binding needs.
 */
export interface PeerCertificate {
  /** The subject's common name (CN), if any. */
  readonly commonName?: string;
  /** The subject alternative names of type URI. */
  readonly uris: readonly string[];
}

/** The SAN URI prefix that names a member: `urn:raftwire:member:<hex id>`. */
export const MEMBER_URI_PREFIX = 'urn:raftwire:member:';

/** The SAN URI that names member `id` in its certificate. */
export function memberUri(id: Id): string {
  return `${MEMBER_URI_PREFIX}${formatId(id)}`;
}

/**
 * The member ID a certificate names: its SAN URI `urn:raftwire:member:<hex>` if it has one
 * (it must have at most one), else its CN when the CN is a member ID in hex (etcd's
 * `--peer-cert-allowed-cn`, one per member). Undefined when it names none.
 */
export function memberIdOfCertificate(cert: PeerCertificate): Id | undefined {
  const named = cert.uris.filter((u) => u.startsWith(MEMBER_URI_PREFIX));
  if (named.length > 1) return undefined;
  if (named.length === 1) {
    const id = tryParseId((named[0] as string).slice(MEMBER_URI_PREFIX.length));
    return id === 0n ? undefined : id;
  }
  const cn = cert.commonName;
  if (cn === undefined || !/^[0-9a-f]{1,16}$/.test(cn)) return undefined;
  const id = tryParseId(cn);
  return id === 0n ? undefined : id;
}

/**
 * Says which member a request comes from, from what the platform verified (a client
 * certificate, a token): the member ID, or undefined when the request is not authenticated.
 * With one set (`TransportOptions.authenticatePeer`) the handler refuses (403) every raft
 * request that is not authenticated, and every one whose claimed sender (the `X-Server-From`
 * header, the message's `from`, the stream path's ID) is another member.
 */
export type PeerAuthenticator = (req: HandlerRequest) => Id | undefined;

/** The authenticator of mutual TLS: the member the verified client certificate names. */
export const certificateAuthenticator: PeerAuthenticator = (req) =>
  req.peerCertificate === undefined ? undefined : memberIdOfCertificate(req.peerCertificate);
