import { ErrorCode, RaftwireError, decodeError } from '../errors.js';
import { type Version, parseVersion, remoteSupportsStream, servedStreams, versionIncompatibility } from '../version.js';
import type { StreamType } from '../wire.js';
import { goJsonString, parseJsonExact } from './json.js';

/**
 * etcd 3.4's version semantics on the peer port, as pure functions: the
 * X-Server-Version / X-Min-Cluster-Version headers (a missing or empty one
 * means 2.0.0, from before the headers existed), the compatibility rule
 * (major.minor only), the stream type table, the response headers of each
 * endpoint and the body of `GET /version`.
 */

/** The etcd release this profile speaks as (X-Server-Version). */
export const ETCD_SERVER_VERSION = '3.4.23';
/** The oldest version it works with (X-Min-Cluster-Version). */
export const ETCD_MIN_CLUSTER_VERSION = '3.0.0';
/** What a missing version header means to etcd. */
export const ETCD_ABSENT_VERSION = '2.0.0';
/** The cluster version a 3.4 cluster settles on (major.minor.0), as `/version` reports it. */
export const ETCD_CLUSTER_VERSION = '3.4.0';
/** What `/version` reports as the cluster version before the cluster has decided one. */
export const ETCD_CLUSTER_VERSION_NOT_DECIDED = 'not_decided';

/** etcd's supportedStream table, keyed by major.minor: 2.0 had no streams; 2.1 to 3.4 serve msgappv2 and message. */
export const ETCD_SUPPORTED_STREAMS: Readonly<Record<string, readonly StreamType[]>> = Object.freeze({
  '2.0': [],
  '2.1': ['msgappv2', 'message'],
  '2.2': ['msgappv2', 'message'],
  '2.3': ['msgappv2', 'message'],
  '3.0': ['msgappv2', 'message'],
  '3.1': ['msgappv2', 'message'],
  '3.2': ['msgappv2', 'message'],
  '3.3': ['msgappv2', 'message'],
  '3.4': ['msgappv2', 'message'],
});

/**
 * The version an etcd peer's header value stands for: a missing or empty
 * header is 2.0.0. Throws ERR_INVALID_VERSION for a malformed one (etcd panics).
 */
export function etcdHeaderVersion(value: string | undefined | null): Version {
  return parseVersion(value === undefined || value === null || value === '' ? ETCD_ABSENT_VERSION : value);
}

export interface EtcdVersionHeaders {
  /** X-Server-Version as received (undefined when absent). */
  serverVersion?: string | undefined;
  /** X-Min-Cluster-Version as received. */
  minClusterVersion?: string | undefined;
}

/**
 * etcd's checkVersionCompatibility for a request with these headers, seen by
 * a member of version `local`: returns etcd's reason ("remote version is too
 * low" / "local version is too low") or undefined when compatible; etcd
 * answers the first two with 412 `incompatible version`. Throws
 * ERR_INVALID_VERSION for a malformed header.
 */
export function etcdVersionIncompatibility(
  remote: EtcdVersionHeaders,
  local: { server: string; minCluster: string } = { server: ETCD_SERVER_VERSION, minCluster: ETCD_MIN_CLUSTER_VERSION },
): string | undefined {
  return versionIncompatibility(
    { server: parseVersion(local.server), minCluster: parseVersion(local.minCluster) },
    { server: etcdHeaderVersion(remote.serverVersion), minCluster: etcdHeaderVersion(remote.minClusterVersion) },
  );
}

/**
 * Whether a remote of version `remote` serves stream type `t`, as etcd's
 * dialer decides it: a remote at or above our major.minor serves everything,
 * an older one what the table lists for it.
 */
export function etcdRemoteSupportsStream(remote: Version, t: StreamType, local: Version = parseVersion(ETCD_SERVER_VERSION)): boolean {
  return remoteSupportsStream(local, remote, t, ETCD_SUPPORTED_STREAMS);
}

/** The stream types an etcd member of version `v` serves. */
export function etcdServedStreams(v: Version = parseVersion(ETCD_SERVER_VERSION)): StreamType[] {
  return servedStreams(v, ETCD_SUPPORTED_STREAMS);
}

/** The peer endpoints whose response headers differ. */
export type EtcdEndpoint = 'pipeline' | 'snapshot' | 'stream' | 'probing' | 'version' | 'members';

/**
 * The headers etcd 3.4 puts on a response of each endpoint, before any body
 * (the same on its errors): the pipeline and snapshot handlers send only
 * X-Etcd-Cluster-ID; the stream handler adds X-Server-Version; `/members`
 * has X-Etcd-Cluster-ID and JSON; `/version` only JSON; probing none of these.
 * Names are lowercase; `clusterIdHex` is etcd's hex ID.
 */
export function etcdResponseHeaders(
  endpoint: EtcdEndpoint,
  clusterIdHex: string,
  serverVersion = ETCD_SERVER_VERSION,
): Record<string, string> {
  switch (endpoint) {
    case 'pipeline':
    case 'snapshot':
      return { 'x-etcd-cluster-id': clusterIdHex };
    case 'stream':
      return { 'x-server-version': serverVersion, 'x-etcd-cluster-id': clusterIdHex };
    case 'members':
      return { 'x-etcd-cluster-id': clusterIdHex, 'content-type': 'application/json' };
    case 'version':
      return { 'content-type': 'application/json' };
    case 'probing':
      return {};
  }
}

/** etcd's version.Versions: what `GET /version` answers. */
export interface EtcdVersions {
  /** `etcdserver`: the server's release. */
  server: string;
  /** `etcdcluster`: the cluster version, or `not_decided`. */
  cluster: string;
}

/** The body of `GET /version`, byte for byte: `{"etcdserver":"3.4.23","etcdcluster":"3.4.0"}` (no newline). */
export function encodeEtcdVersions(v: EtcdVersions = { server: ETCD_SERVER_VERSION, cluster: ETCD_CLUSTER_VERSION }): Uint8Array {
  return new TextEncoder().encode(`{"etcdserver":${goJsonString(v.server)},"etcdcluster":${goJsonString(v.cluster)}}`);
}

/** Reads a `GET /version` body. Throws ERR_DECODE unless both fields are strings, ERR_FRAME_TOO_LARGE over `maxBytes`. */
export function decodeEtcdVersions(input: Uint8Array | string, maxBytes = 4096): EtcdVersions {
  const size = typeof input === 'string' ? input.length : input.length;
  if (size > maxBytes) throw new RaftwireError(ErrorCode.FRAME_TOO_LARGE, `version body of ${size} bytes is over the cap of ${maxBytes}`);
  const v = parseJsonExact(typeof input === 'string' ? input : new TextDecoder().decode(input));
  if (!(v instanceof Map)) throw decodeError('version body is not an object');
  const server = v.get('etcdserver');
  const cluster = v.get('etcdcluster');
  if (typeof server !== 'string' || typeof cluster !== 'string') throw decodeError('version body lacks etcdserver or etcdcluster');
  return { server, cluster };
}
