/**
 * `@raftwire/member`: a whole raftwire member (RaftNode + Transport + link + server) in one
 * call. The link-specific constructors live in their own entries: `@raftwire/member/http`
 * (Node) and `@raftwire/member/webrtc` (browsers and Node). This entry holds what they share.
 */
export {
  DEFAULT_CLUSTER_ID,
  type MemberBaseOptions,
  type MemberRaftOptions,
  type MemberStateMachineOption,
  type MemberStopped,
  type MemberTransportOptions,
  type PeerSpec,
  type RaftMember,
} from './member-options.js';
