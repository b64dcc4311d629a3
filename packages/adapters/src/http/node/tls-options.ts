import type { SecureVersion } from 'node:tls';

/** PEM text or bytes. */
export type Pem = string | Uint8Array;

/** TLS for the raft server (`https:` peer URLs). */
export interface RaftServerTlsOptions {
  /** Server private key (PEM). */
  key: Pem;
  /** Server certificate chain (PEM); its SAN must match the advertised peer URL host. */
  cert: Pem;
  /** CA certificates that client certificates must chain to (mutual TLS). */
  ca?: Pem | Pem[];
  /**
   * Mutual TLS: require a client certificate signed by `ca` and refuse the
   * connection (handshake failure) without one. etcd's `ClientCertAuth`.
   */
  clientCertAuth?: boolean;
  /** Oldest TLS version accepted (default Node's, TLSv1.2). */
  minVersion?: SecureVersion;
  /** Handshake deadline in ms (default 10000, as etcd). */
  handshakeTimeoutMs?: number;
}

/** TLS for the node:http client. */
export interface RaftClientTlsOptions {
  /** CA certificates that server certificates must chain to (default: Node's root store). */
  ca?: Pem | Pem[];
  /** Client certificate (PEM), for servers that require mutual TLS. */
  cert?: Pem;
  /** Client private key (PEM). */
  key?: Pem;
  /** Verify the server certificate (default true). */
  rejectUnauthorized?: boolean;
  /** SNI / name to verify, when it differs from the URL host. */
  servername?: string;
  minVersion?: SecureVersion;
}

/** Node's TLS APIs take strings or Buffers; plain Uint8Arrays are wrapped without copying. */
export function pemInput(p: Pem): string | Buffer {
  return typeof p === 'string' ? p : Buffer.from(p.buffer, p.byteOffset, p.byteLength);
}

export function pemList(p: Pem | Pem[] | undefined): Array<string | Buffer> | undefined {
  if (p === undefined) return undefined;
  return (Array.isArray(p) ? p : [p]).map(pemInput);
}
