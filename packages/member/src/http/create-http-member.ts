import { mkdir } from 'node:fs/promises';
import { ErrorCode, certificateAuthenticator, normalizePeerUrl, type ProtocolHandler, RaftwireError } from '@raftwire/core';
import { NodeHttpLink, type NodeHttpLinkOptions, type Pem, type RaftServerOptions, startRaftServer } from '@raftwire/adapters/http/node';
import type { KvStateMachine, StateMachine, WritableStorage } from '@raftwire/raft';
import { FileStorage } from '@raftwire/raft/node';
import type { MemberBaseOptions, MemberStateMachineOption, PeerSpec, RaftMember } from '../member-options.js';
import { invalid, memberLogger, otherPeers, wireMember } from '../wire-member.js';

const CALLER = 'createHttpMember';

/**
 * TLS between members: one key pair and CA for both sides. The server presents `cert` and, by
 * default, requires every peer to present a certificate signed by `ca` (mutual TLS, etcd's
 * `--peer-client-cert-auth`); the client presents `cert` and verifies servers against `ca`.
 */
export interface HttpMemberTls {
  /** This member's private key (PEM). */
  key: Pem;
  /** This member's certificate (PEM); its SAN must match the host of its peer URL. */
  cert: Pem;
  /** The CA(s) peers' certificates must chain to. */
  ca: Pem | Pem[];
  /** Require peers to present a certificate (mutual TLS). Default true; false leaves peers unauthenticated. */
  clientCertAuth?: boolean;
  /**
   * Bind each peer's member ID to its certificate (default true with `clientCertAuth`): a request
   * is served only when the client certificate names the member that sends it (SAN URI
   * `urn:raftwire:member:<hex>`, or CN = the hex ID), so a member cannot speak for another, and
   * each member needs its own certificate. false: any certificate from `ca` may claim any ID.
   */
  bindMemberId?: boolean;
}

/** How a member is secured: TLS material, or an explicit `insecure: true` (plain http, no authentication). */
export type HttpMemberSecurity = { tls: HttpMemberTls; insecure?: never } | { insecure: true; tls?: never };

/** Where the log lives: a directory (WAL and snapshots, fsynced) or a storage you made. */
export type HttpMemberStorage = { dataDir: string; storage?: never } | { storage: WritableStorage; dataDir?: never };

export type HttpMemberOptions<SM extends StateMachine = KvStateMachine> = MemberBaseOptions<SM> &
  MemberStateMachineOption<SM> &
  HttpMemberSecurity &
  HttpMemberStorage & {
    /**
     * The URL to serve the raft protocol on: `https://host:port` with `tls`, `http://host:port`
     * with `insecure`. Port 0 picks a free port (read the result from `member.url`).
     */
    listen: string;
    /** The URL peers reach this member at, when it is not `listen` (a wildcard bind, a proxy). */
    advertise?: string;
    /**
     * The members of the initial cluster, `{ id, url }` each (this member's own entry may be
     * included: the same list can be given to every member). With `join`, the members to contact.
     */
    peers: readonly PeerSpec[];
    /** Server limits and timeouts (see `RaftServerOptions`). */
    server?: Omit<RaftServerOptions, 'handler' | 'host' | 'port' | 'tls' | 'logger'>;
    /** Client tuning (see `NodeHttpLinkOptions`). */
    link?: Omit<NodeHttpLinkOptions, 'tls' | 'logger'>;
  };

function parseListen(text: unknown, scheme: 'http:' | 'https:', what: string): URL {
  if (typeof text !== 'string') invalid(CALLER, `${what} must be a URL string such as ${scheme}//127.0.0.1:2380`);
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    throw new RaftwireError(
      ErrorCode.INVALID_URL,
      `${CALLER}: ${what} ${JSON.stringify(text)} is not a URL (want e.g. ${scheme}//127.0.0.1:2380)`,
    );
  }
  if (u.protocol !== scheme) {
    const hint = scheme === 'https:' ? 'tls is given, so members speak https' : 'insecure: true means plain http; pass tls for https';
    throw new RaftwireError(ErrorCode.INVALID_URL, `${CALLER}: ${what} ${JSON.stringify(text)} must be ${scheme}// (${hint})`);
  }
  if (u.port === '' && !/:\d+\/?$/.test(text)) {
    throw new RaftwireError(
      ErrorCode.INVALID_URL,
      `${CALLER}: ${what} ${JSON.stringify(text)} needs an explicit port (0 for any free port)`,
    );
  }
  if ((u.pathname !== '/' && u.pathname !== '') || u.search || u.hash || u.username || u.password) {
    throw new RaftwireError(ErrorCode.INVALID_URL, `${CALLER}: ${what} ${JSON.stringify(text)} must be scheme://host:port only`);
  }
  return u;
}

/**
 * One call per Node member over HTTP(S): serves the raft protocol on `listen`, dials peers with a
 * node:http(s) client, keeps the log in `dataDir` (or the given `storage`), and runs a RaftNode
 * over a core Transport, wired as every member must be (see `wireMember`). Secure by default:
 * it needs `tls` (mutual TLS between members) or an explicit `insecure: true`.
 *
 * ```ts
 * const member = await createHttpMember({ id: 1n, listen: 'http://127.0.0.1:2380', insecure: true,
 *   peers: [{ id: 2n, url: 'http://127.0.0.1:2381' }, { id: 3n, url: 'http://127.0.0.1:2382' }],
 *   dataDir: './member-1' });
 * await member.node.propose(encodeKvCommand({ op: 'put', key: 'a', value }), { signal: AbortSignal.timeout(5000) });
 * await member.close();
 * ```
 *
 * Errors: ERR_INVALID_ARGUMENT (missing or conflicting options), ERR_INVALID_URL (a URL of the
 * wrong scheme or shape), ERR_LINK (cannot listen), storage errors (ERR_CORRUPT, ...).
 */
export async function createHttpMember<SM extends StateMachine = KvStateMachine>(options: HttpMemberOptions<SM>): Promise<RaftMember<SM>> {
  const o = options as HttpMemberOptions<SM> & { tls?: HttpMemberTls; insecure?: boolean; dataDir?: string; storage?: WritableStorage };
  if (o === null || typeof o !== 'object') invalid(CALLER, 'options must be an object');
  const hasTls = o.tls !== undefined;
  if (hasTls && o.insecure === true) invalid(CALLER, 'pass either tls or insecure: true, not both');
  if (!hasTls && o.insecure !== true) {
    invalid(
      CALLER,
      'members must authenticate each other: pass tls ({ key, cert, ca }: mutual TLS) or insecure: true to run plain http without authentication',
    );
  }
  if (hasTls && (o.tls?.key === undefined || o.tls.cert === undefined || o.tls.ca === undefined)) {
    invalid(CALLER, 'tls needs key, cert and ca (PEM)');
  }
  if (o.dataDir !== undefined && o.storage !== undefined) invalid(CALLER, 'pass either dataDir or storage, not both');
  if (o.dataDir === undefined && o.storage === undefined) {
    invalid(
      CALLER,
      'pass dataDir (a directory for the WAL and snapshots) or storage (e.g. new MemoryStorage() for a member whose log may be lost)',
    );
  }
  if (o.dataDir !== undefined && (typeof o.dataDir !== 'string' || o.dataDir === '')) invalid(CALLER, 'dataDir must be a non-empty path');
  o.signal?.throwIfAborted();
  const scheme = hasTls ? 'https:' : 'http:';
  const listen = parseListen(o.listen, scheme, 'listen');
  const advertised = o.advertise === undefined ? undefined : parseListen(o.advertise, scheme, 'advertise');
  if (advertised === undefined && /^(0\.0\.0\.0|\[::\])$/.test(listen.hostname)) {
    invalid(CALLER, `listen ${o.listen} binds every address: pass advertise, the URL peers reach this member at`);
  }
  if (advertised !== undefined && advertised.port === '0') invalid(CALLER, 'advertise needs the real port, not 0');
  // Peer URLs follow the transport's own rules (the same ones RaftNode checks on a membership change).
  const normalize = (u: string): string => {
    const n = normalizePeerUrl(u);
    if (!n.startsWith(scheme)) throw new RaftwireError(ErrorCode.INVALID_URL, `${CALLER}: peer URL ${n} must be ${scheme}// like listen`);
    return n;
  };
  const logger = memberLogger(o.logger);
  const tls = o.tls;

  let transportHandler: ProtocolHandler | undefined;
  const handler: ProtocolHandler = (req) =>
    transportHandler
      ? transportHandler(req)
      : Promise.resolve({ status: 503, headers: {}, body: new TextEncoder().encode('member not started') });
  const server = await startRaftServer({
    ...o.server,
    handler,
    host: listen.hostname.replace(/^\[|\]$/g, ''),
    port: Number(listen.port === '' ? (scheme === 'https:' ? 443 : 80) : listen.port),
    logger,
    ...(tls === undefined ? {} : { tls: { key: tls.key, cert: tls.cert, ca: tls.ca, clientCertAuth: tls.clientCertAuth ?? true } }),
  });
  const link = new NodeHttpLink({ ...o.link, logger, ...(tls === undefined ? {} : { tls: { ca: tls.ca, cert: tls.cert, key: tls.key } }) });
  let storage: WritableStorage | undefined = o.storage;
  let opened: FileStorage | undefined;
  const release = async (signal: AbortSignal | undefined): Promise<void> => {
    const force = signal ?? AbortSignal.timeout(2000);
    await server.close({ signal: force });
    link.close();
    await opened?.close();
  };
  try {
    const url = advertised === undefined ? normalize(`${scheme}//${hostOf(listen, server.port)}`) : normalize(advertised.origin);
    const peers = otherPeers(CALLER, o.id, url, o.peers, normalize);
    if (o.join === true && peers.length === 0) invalid(CALLER, 'join needs at least one peer to contact');
    if (storage === undefined) {
      const dir = o.dataDir as string;
      await mkdir(dir, { recursive: true });
      opened = await FileStorage.open(dir, { logger });
      storage = opened;
    }
    const clientCertAuth = tls !== undefined && tls.clientCertAuth !== false;
    if (tls !== undefined && !clientCertAuth && tls.bindMemberId === true) {
      invalid(CALLER, 'tls.bindMemberId needs tls.clientCertAuth (a certificate to bind the ID to)');
    }
    const bind = clientCertAuth && tls?.bindMemberId !== false;
    return await wireMember<SM>({
      options: bind ? { ...o, transport: { ...o.transport, authenticatePeer: certificateAuthenticator } } : o,
      caller: CALLER,
      url,
      peers,
      link,
      storage,
      logger,
      serve: (h) => {
        transportHandler = h;
      },
      release,
    });
  } catch (err) {
    await release(AbortSignal.abort());
    throw err;
  }
}

/** host:port of the URL a server bound to `listen` serves, with the actual port. */
function hostOf(listen: URL, port: number): string {
  return `${listen.hostname}:${port}`;
}
