// The etcd-3.4 wire profile: codecs and rules that speak etcd 3.4's rafthttp
// byte for byte, behind the same seams as the native profile.
export {
  ETCD_MAX_MESSAGE_TYPE,
  EtcdMessageCodec,
  type EtcdHardState,
  etcdMessageCodec,
  encodeEtcdEntry,
  decodeEtcdEntry,
  encodeEtcdSnapshot,
  decodeEtcdSnapshot,
  encodeEtcdConfState,
  decodeEtcdConfState,
  encodeEtcdHardState,
  decodeEtcdHardState,
} from './raftpb.js';
export {
  EtcdConfChangeType,
  EtcdConfChangeTransition,
  type EtcdConfChange,
  type EtcdConfChangeSingle,
  type EtcdConfChangeV2,
  encodeEtcdConfChange,
  decodeEtcdConfChange,
  encodeEtcdConfChangeV2,
  decodeEtcdConfChangeV2,
} from './conf-change.js';
export {
  type EtcdMember,
  DEFAULT_MAX_MEMBER_JSON_BYTES,
  encodeEtcdMember,
  decodeEtcdMember,
  encodeEtcdMemberList,
  decodeEtcdMemberList,
} from './member.js';
export {
  ETCD_MAX_FRAME_BYTES,
  type EtcdFrameLimits,
  encodeEtcdFrame,
  EtcdFrameDecoder,
  EtcdMessageStreamEncoder,
  EtcdMessageStreamDecoder,
} from './framing.js';
export { DEFAULT_ETCD_MSGAPP_LIMITS, EtcdMsgAppEncoder, EtcdMsgAppDecoder } from './msgappv2.js';
export {
  type EtcdSnapshotLimits,
  type EtcdSnapshotRequest,
  DEFAULT_ETCD_SNAPSHOT_LIMITS,
  encodeEtcdSnapshotEnvelope,
  etcdSnapshotBody,
  EtcdSnapshotDecoder,
  readEtcdSnapshot,
} from './snapshot.js';
export {
  ETCD_SERVER_VERSION,
  ETCD_MIN_CLUSTER_VERSION,
  ETCD_ABSENT_VERSION,
  ETCD_CLUSTER_VERSION,
  ETCD_CLUSTER_VERSION_NOT_DECIDED,
  ETCD_SUPPORTED_STREAMS,
  type EtcdVersionHeaders,
  type EtcdEndpoint,
  type EtcdVersions,
  etcdHeaderVersion,
  etcdVersionIncompatibility,
  etcdRemoteSupportsStream,
  etcdServedStreams,
  etcdResponseHeaders,
  encodeEtcdVersions,
  decodeEtcdVersions,
} from './version.js';
export { EtcdPeerPath, type EtcdProfileOptions, etcdWireProfile } from './profile.js';
export {
  type EtcdAttributes,
  type EtcdRequest,
  EtcdRequestIdGenerator,
  createEtcdRequest,
  decodeEtcdRequest,
  encodeEtcdAttributes,
  encodeEtcdRequest,
  etcdMemberAttributesPath,
  etcdPublishRequest,
} from './request.js';
export { DEFAULT_MAX_V2_STORE_BYTES, type EtcdV2Membership, decodeEtcdV2Membership } from './v2-store.js';
