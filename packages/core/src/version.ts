import { ErrorCode, RaftwireError } from './errors.js';
import { STREAM_TYPES, type StreamType } from './wire.js';

/** raftwire's wire-protocol version. */
export const SERVER_VERSION = '1.0.0';
/** The oldest version this one interoperates with. */
export const MIN_CLUSTER_VERSION = '1.0.0';
/** What a missing version header means (etcd: 2.0.0, before version headers existed). */
export const ABSENT_VERSION = '0.0.0';

/**
 * Stream types each `major.minor` serves. A dialer whose remote is older
 * than itself looks the remote's version up here; a type missing from the
 * remote's list is not dialled (silent fallback: MsgApp then rides the
 * message stream). Versions not listed and not older serve everything.
 */
export const SUPPORTED_STREAMS: Readonly<Record<string, readonly StreamType[]>> = Object.freeze({
  '0.0': [],
  '1.0': ['msgappv2', 'message'],
});

export interface Version {
  major: number;
  minor: number;
  patch: number;
  prerelease: string;
}

const SEMVER = /^(0|[1-9]\d{0,8})\.(0|[1-9]\d{0,8})\.(0|[1-9]\d{0,8})(?:-([0-9A-Za-z.-]{1,64}))?(?:\+([0-9A-Za-z.-]{1,64}))?$/;

/** Parses `major.minor.patch[-pre][+build]`; throws ERR_INVALID_VERSION on anything else. */
export function parseVersion(text: string): Version {
  const m = typeof text === 'string' ? SEMVER.exec(text) : null;
  if (!m) {
    throw new RaftwireError(ErrorCode.INVALID_VERSION, `malformed version ${JSON.stringify(String(text).slice(0, 40))}`);
  }
  return { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3]), prerelease: m[4] ?? '' };
}

/** Compares major.minor only (patch, prerelease and build ignored): -1, 0 or 1. */
export function compareMajorMinor(a: Version, b: Version): -1 | 0 | 1 {
  if (a.major !== b.major) return a.major < b.major ? -1 : 1;
  if (a.minor !== b.minor) return a.minor < b.minor ? -1 : 1;
  return 0;
}

export function majorMinorKey(v: Version): string {
  return `${v.major}.${v.minor}`;
}

/**
 * etcd's checkVersionCompatibility: the remote is too old when its server
 * version is below our minimum cluster version; we are too old when its
 * minimum cluster version is above our server version. Returns the reason,
 * or undefined when compatible.
 */
export function versionIncompatibility(
  local: { server: Version; minCluster: Version },
  remote: { server: Version; minCluster: Version },
): string | undefined {
  if (compareMajorMinor(remote.server, local.minCluster) < 0) return 'remote version is too low';
  if (compareMajorMinor(remote.minCluster, local.server) > 0) return 'local version is too low';
  return undefined;
}

/** The stream types a remote of version `remote` serves, from our point of view (version `local`). */
export function remoteSupportsStream(
  local: Version,
  remote: Version,
  t: StreamType,
  table: Readonly<Record<string, readonly StreamType[]>> = SUPPORTED_STREAMS,
): boolean {
  if (compareMajorMinor(remote, local) >= 0) return true;
  const types = table[majorMinorKey(remote)];
  return types?.includes(t) === true;
}

/** The stream types a server of version `v` serves. */
export function servedStreams(v: Version, table: Readonly<Record<string, readonly StreamType[]>> = SUPPORTED_STREAMS): StreamType[] {
  const types = table[majorMinorKey(v)];
  return types === undefined ? [...STREAM_TYPES] : [...types];
}
