import { ErrorCode, RaftwireError } from '../errors.js';
import type { HandlerResponse } from '../link.js';
import { textResponse } from '../serve.js';
import { parseVersion } from '../version.js';
import { ErrorText, Header } from '../wire.js';
import type { ClusterMember, ExtraEndpointHost, WireProfile } from '../wire-profile.js';
import { EtcdMessageStreamDecoder, EtcdMessageStreamEncoder } from './framing.js';
import { encodeEtcdMemberList } from './member.js';
import { EtcdMsgAppDecoder, EtcdMsgAppEncoder } from './msgappv2.js';
import { readU64, u64Text } from './protobuf.js';
import { etcdMessageCodec } from './raftpb.js';
import { encodeEtcdSnapshotEnvelope } from './snapshot.js';
import {
  ETCD_MIN_CLUSTER_VERSION,
  ETCD_SERVER_VERSION,
  ETCD_SUPPORTED_STREAMS,
  encodeEtcdVersions,
  etcdHeaderVersion,
  etcdResponseHeaders,
} from './version.js';

/** etcd's peer endpoints outside `/raft` (etcdserver/api/etcdhttp/peer.go and version.go). */
export const EtcdPeerPath = { version: '/version', members: '/members' } as const;

/** Options of {@link etcdWireProfile}: the versions to speak as (tests fake other releases). */
export interface EtcdProfileOptions {
  version?: string;
  minClusterVersion?: string;
}

const byId = (a: ClusterMember, b: ClusterMember): number => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/**
 * The `etcd-3.4` wire profile: etcd 3.4.23's rafthttp as captured on a real cluster. raftpb as
 * gogoproto writes it on `POST /raft` (`application/protobuf`); 8-byte big-endian frames on the
 * message stream; etcd's msgappv2; a snapshot body of u64 length · MsgSnap · the database to the
 * end of the request (no size field: the handler caps it with `limits.maxSnapshotBodyBytes`);
 * version `3.4.23` / `3.0.0`, a missing header meaning 2.0.0, etcd's stream type table; etcd's
 * answer headers per endpoint; no `To` check (etcd's 403 is only for a removed sender); and the
 * peer endpoints `GET /version` and `GET /members` (IDs as decimal uint64).
 */
export function etcdWireProfile(o: EtcdProfileOptions = {}): WireProfile {
  const version = o.version ?? ETCD_SERVER_VERSION;
  const parsed = parseVersion(version);
  // etcd reports the cluster version as major.minor.0 of the release (version.Cluster).
  const clusterVersion = `${parsed.major}.${parsed.minor}.0`;
  const getOnly = (path: string, clusterIdHex: string, method: string): HandlerResponse | undefined =>
    method === 'GET'
      ? undefined
      : textResponse(405, ErrorText.methodNotAllowed, {
          ...etcdResponseHeaders(path === EtcdPeerPath.members ? 'members' : 'version', clusterIdHex, version),
          [Header.allow]: 'GET',
        });
  return {
    name: 'etcd-3.4',
    codec: etcdMessageCodec,
    messageContentType: 'application/protobuf',
    version,
    minClusterVersion: o.minClusterVersion ?? ETCD_MIN_CLUSTER_VERSION,
    streamSupport: ETCD_SUPPORTED_STREAMS,
    checksMessageTo: false,
    extraPaths: [EtcdPeerPath.version, EtcdPeerPath.members],
    headerVersion: etcdHeaderVersion,
    streamEncoder: (type, peers) => (type === 'msgappv2' ? new EtcdMsgAppEncoder(peers) : new EtcdMessageStreamEncoder()),
    streamDecoder: (type, peers, maxFrameBytes) =>
      type === 'msgappv2' ? new EtcdMsgAppDecoder(peers, { maxFrameBytes }) : new EtcdMessageStreamDecoder({ maxFrameBytes }),
    encodeSnapshotHead: (m) => encodeEtcdSnapshotEnvelope(m),
    readSnapshotHead: async (reader, maxEnvelopeBytes) => {
      const head = await reader.exact(8, 'snapshot envelope length');
      const n = readU64(head, 0);
      if (n < 0 || n > maxEnvelopeBytes) {
        throw new RaftwireError(
          ErrorCode.FRAME_TOO_LARGE,
          `snapshot envelope declares ${n < 0 ? u64Text(head, 0) : n} bytes, over the cap of ${maxEnvelopeBytes}`,
        );
      }
      return { message: etcdMessageCodec.decode(await reader.exact(n, 'snapshot envelope')), size: -1 };
    },
    responseHeaders: (endpoint, clusterIdHex) => etcdResponseHeaders(endpoint, clusterIdHex, version),
    serveExtra: (path, req, host: ExtraEndpointHost) => {
      const refused = getOnly(path, host.clusterIdHex, req.method);
      if (refused) return refused;
      if (path === EtcdPeerPath.version) {
        return {
          status: 200,
          headers: etcdResponseHeaders('version', host.clusterIdHex, version),
          body: encodeEtcdVersions({ server: version, cluster: clusterVersion }),
        };
      }
      const members = [...host.members()].sort(byId).map((m) => ({
        id: m.id,
        name: m.name,
        peerURLs: [...m.peerURLs],
        clientURLs: [...m.clientURLs],
        isLearner: m.isLearner,
      }));
      return { status: 200, headers: etcdResponseHeaders('members', host.clusterIdHex, version), body: encodeEtcdMemberList(members) };
    },
  };
}
